"""Data-parallel set-up from torchrun's or Slurm's environment, and the few collectives we use.

torchrun sets RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT. A submitit (Slurm) job's
tasks are started by srun, not torchrun, so SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID are read
instead and the rendezvous address is the first node of the job.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from .errors import BadInputError, BenchError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 29500
    source: str = "single"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def first_slurm_host(nodelist: str) -> str:
    """First host of a Slurm node list such as "gpu[003-005,007],cpu1" -> "gpu003"."""
    match = re.match(r"([^,\[]+)(?:\[([^\]]+)\])?", nodelist.strip())
    if not match:
        return nodelist
    prefix, ranges = match.groups()
    if not ranges:
        return prefix
    return prefix + ranges.split(",")[0].split("-")[0]


def detect(environ: dict[str, str] | None = None) -> DistEnv:
    env = os.environ if environ is None else environ
    if "RANK" in env and "WORLD_SIZE" in env:
        return DistEnv(
            int(env["RANK"]),
            int(env["WORLD_SIZE"]),
            int(env.get("LOCAL_RANK", 0)),
            env.get("MASTER_ADDR", "127.0.0.1"),
            int(env.get("MASTER_PORT", 29500)),
            "torchrun",
        )
    if "SLURM_PROCID" in env and int(env.get("SLURM_NTASKS", "1")) > 1:
        job = int(env.get("SLURM_JOB_ID", "0"))
        return DistEnv(
            int(env["SLURM_PROCID"]),
            int(env["SLURM_NTASKS"]),
            int(env.get("SLURM_LOCALID", 0)),
            env.get("MASTER_ADDR") or first_slurm_host(env.get("SLURM_JOB_NODELIST", "127.0.0.1")),
            int(env.get("MASTER_PORT", 20000 + job % 20000)),
            "slurm",
        )
    return DistEnv()


def init(env: DistEnv, timeout_minutes: float = 360.0) -> None:
    """Join the process group (NCCL on GPUs, gloo on CPUs); a no-op for a single process."""
    if not env.active or dist.is_initialized():
        return
    use_cuda = torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(env.local_rank)
    log.info("rank %d/%d joining %s:%d (%s)", env.rank, env.world_size, env.master_addr, env.master_port, env.source)
    dist.init_process_group(
        backend="nccl" if use_cuda else "gloo",
        init_method=f"tcp://{env.master_addr}:{env.master_port}",
        rank=env.rank,
        world_size=env.world_size,
        # Ranks wait for each other at the end of each task; a slow shard must not time out.
        timeout=dt.timedelta(minutes=timeout_minutes),
    )


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def broadcast(value: Any) -> Any:
    """Rank 0's value on every rank."""
    if not dist.is_initialized():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_gather(value: Any) -> list[Any]:
    if not dist.is_initialized():
        return [value]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, value)
    return out


def collectively(fn: Callable[[], T]) -> T:
    """Run this rank's local part; if any rank fails, every rank raises, so none waits forever
    at the next collective. `fn` must not itself call a collective."""
    if not dist.is_initialized():
        return fn()
    result, failure = None, None
    try:
        result = fn()
    except BenchError as exc:
        failure = (exc.exit_code, str(exc))
    except Exception as exc:
        log.exception("rank %d failed", dist.get_rank())
        failure = (1, f"{type(exc).__name__}: {exc}")
    for rank, failed in enumerate(all_gather(failure)):
        if failed is not None:
            code, message = failed
            raise (BadInputError if code == BadInputError.exit_code else BenchError)(f"rank {rank}: {message}")
    return result  # type: ignore[return-value]


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
