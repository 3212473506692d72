"""Rank set-up is read from torchrun's environment or from Slurm's (submitit starts tasks with srun)."""

from blip2_bench.distributed import DistEnv, detect, first_slurm_host


def test_single_process_by_default():
    assert detect({}) == DistEnv()
    assert not detect({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}).active  # a 1-task Slurm job


def test_torchrun_environment():
    env = detect({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "MASTER_ADDR": "node7", "MASTER_PORT": "29400"})
    assert env == DistEnv(3, 8, 1, "node7", 29400, "torchrun")
    assert env.active and not env.is_main


def test_slurm_environment_uses_first_node_and_a_job_derived_port():
    env = detect(
        {
            "SLURM_PROCID": "5",
            "SLURM_NTASKS": "8",
            "SLURM_LOCALID": "1",
            "SLURM_JOB_ID": "123456",
            "SLURM_JOB_NODELIST": "gpu[003-004,010]",
        }
    )
    assert (env.rank, env.world_size, env.local_rank, env.master_addr, env.source) == (5, 8, 1, "gpu003", "slurm")
    assert env.master_port == 20000 + 123456 % 20000
    # torchrun's variables win when both are set (torchrun inside an allocation).
    assert detect({"RANK": "0", "WORLD_SIZE": "2", "SLURM_PROCID": "1", "SLURM_NTASKS": "4"}).source == "torchrun"


def test_first_slurm_host():
    assert first_slurm_host("gpu[003-005,007],cpu1") == "gpu003"
    assert first_slurm_host("node12") == "node12"
    assert first_slurm_host("a1,b2") == "a1"
