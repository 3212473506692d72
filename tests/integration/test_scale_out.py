"""Scale-out and crash safety: torchrun ranks, submitit sweeps, SIGKILL/resume, OOM splits."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from blip2_bench.backends.hf_blip2 import HfBlip2Backend
from blip2_bench.cli import main
from tests.conftest import journal_outputs, read_json, read_jsonl
from tests.integration.test_run_end_to_end import run_cli

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_torchrun(args: list[str], ranks: int = 2) -> subprocess.CompletedProcess[str]:
    """The real CLI under torchrun: `ranks` CPU processes joined over gloo on a free local port."""
    cmd = [
        str(BIN / "torchrun"),
        f"--nproc_per_node={ranks}",
        f"--master_port={_free_port()}",
        "-m",
        "blip2_bench.cli",
        *args,
    ]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


def _args(model: Path, data: Path, run_dir: Path, *extra: str) -> list[str]:
    return [
        "backend=tiny-opt",
        f"backend.model={model}",
        f"data_root={data}",
        f"hydra.run.dir={run_dir}",
        "backend.batch_size=2",
        *extra,
    ]


def test_torchrun_two_ranks_generate_exactly_what_one_process_does(tiny_models, vqa_data, tmp_path):
    single, multi = tmp_path / "single", tmp_path / "multi"
    assert main(_args(tiny_models["opt"], vqa_data, single, "reuse_outputs=false")) == 0
    proc = run_torchrun(_args(tiny_models["opt"], vqa_data, multi))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (multi / "journal").glob("*.jsonl")) == ["vqav2.jsonl", "vqav2.rank1.jsonl"]
    assert read_jsonl(multi / "samples" / "vqav2.jsonl") == read_jsonl(single / "samples" / "vqav2.jsonl")
    assert (
        read_json(multi / "results.json")["tasks"]["vqav2"]["scores"]
        == read_json(single / "results.json")["tasks"]["vqav2"]["scores"]
    )
    assert read_json(multi / "results.json")["tasks"]["vqav2"]["timing"]["computed"] == 12


def test_submitit_local_sweep_over_two_pairings(tiny_models, vqa_data, tmp_path):
    sweep = tmp_path / "sweep"
    models = tiny_models["opt"].parent  # tiny-opt/ and tiny-t5/ side by side
    rc = main(
        [
            "-m",
            "hydra/launcher=local",
            "backend=tiny-opt,tiny-t5",
            f"backend.model={models}/${{backend.name}}",
            f"data_root={vqa_data}",
            "limit=3",
            f"hydra.sweep.dir={sweep}",
        ]
    )
    assert rc == 0
    results = sorted(sweep.glob("*/*/results.json"))
    assert [p.parts[-3] for p in results] == ["tiny-opt", "tiny-t5"]
    assert all(read_json(p)["tasks"]["vqav2"]["n_predicted"] == 3 for p in results)


@pytest.mark.parametrize(
    "points", [["before-append:2", "torn-append:2", "torn-append:1", "results-rename:0", "before-complete:0"]]
)
def test_sigkill_at_any_point_then_resume_matches_uninterrupted(tiny_models, vqa_data, tmp_path, points):
    reference = tmp_path / "reference"
    assert main(_args(tiny_models["opt"], vqa_data, reference, "reuse_outputs=false")) == 0
    run_dir = tmp_path / "run"
    harness = REPO / "tests" / "integration" / "_kill_harness.py"
    journal_sizes = []
    for point in points:
        name, n = point.split(":")
        cmd = [sys.executable, str(harness), name, n, "--", *_args(tiny_models["opt"], vqa_data, run_dir)]
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == -signal.SIGKILL, (point, proc.stderr[-2000:])
        # Killed: never a complete-looking run.
        assert not (run_dir / "COMPLETE").exists()
        assert not (run_dir / "results.json").exists() or name == "before-complete"
        journal_sizes.append(len(journal_outputs(run_dir / "journal" / "vqav2.jsonl")))
    assert main(_args(tiny_models["opt"], vqa_data, run_dir)) == 0
    outputs = journal_outputs(run_dir / "journal" / "vqav2.jsonl")
    assert len(outputs) == len({o["id"] for o in outputs}) == 12  # no duplicate, no loss
    assert read_jsonl(run_dir / "samples" / "vqav2.jsonl") == read_jsonl(reference / "samples" / "vqav2.jsonl")
    final = read_json(run_dir / "results.json")["tasks"]["vqav2"]
    assert final["scores"] == read_json(reference / "results.json")["tasks"]["vqav2"]["scores"]
    assert final["n_predicted"] == final["n_samples"] == 12
    # batch 1 survived the first kill (batch 2 never written); the torn batches are dropped
    # whole; everything is journaled before the kills during the final writes.
    sizes = [len(entry["outputs"]) for entry in read_jsonl(reference / "journal" / "vqav2.jsonl")]
    assert journal_sizes == [sizes[0], sizes[0] + sizes[1], sizes[0] + sizes[1], 12, 12]


def test_cuda_oom_splits_the_batch_and_marks_the_samples(tiny_models, vqa_data, tmp_path, monkeypatch):
    real = HfBlip2Backend.generate
    sizes: list[int] = []

    def oom_above_one(self, requests, images):
        sizes.append(len(requests))
        if len(requests) > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
        return real(self, requests, images)

    monkeypatch.setattr(HfBlip2Backend, "generate", oom_above_one)
    run_dir = tmp_path / "run"
    assert run_cli("opt", tiny_models["opt"], vqa_data, run_dir, "backend.batch_size=4", "limit=4") == 0
    task = read_json(run_dir / "results.json")["tasks"]["vqav2"]
    assert task["n_predicted"] == 4 and task["oom_split_samples"] == 4
    assert sizes == [4, 2, 1, 1, 2, 1, 1]
    assert all(r["oom_split"] for r in read_jsonl(run_dir / "samples" / "vqav2.jsonl"))


def test_oom_on_a_single_request_is_not_hidden(tiny_models, vqa_data, tmp_path, monkeypatch):
    def always_oom(self, requests, images):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")

    monkeypatch.setattr(HfBlip2Backend, "generate", always_oom)
    run_dir = tmp_path / "run"
    assert run_cli("opt", tiny_models["opt"], vqa_data, run_dir, "limit=2") == 1
    assert not (run_dir / "results.json").exists()


def test_fresh_recomputes_and_changed_weights_invalidate_the_journal(tiny_models, vqa_data, tmp_path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_models["opt"], model)
    run_dir = tmp_path / "run"
    assert run_cli("opt", model, vqa_data, run_dir, "limit=4") == 0
    assert run_cli("opt", model, vqa_data, run_dir, "limit=4", "fresh=true") == 0
    assert read_json(run_dir / "results.json")["tasks"]["vqav2"]["timing"]["computed"] == 4
    # New weights under the same path: the finished run is stale and its journal unusable.
    (model / "generation_config.json").write_text((model / "generation_config.json").read_text() + "\n")
    assert run_cli("opt", model, vqa_data, run_dir, "limit=4") == 0
    assert read_json(run_dir / "results.json")["tasks"]["vqav2"]["timing"]["computed"] == 4
