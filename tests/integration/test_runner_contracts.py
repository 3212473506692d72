"""The runner redesign's promises through the real CLI: no stale result when weights change,
partial checkpoints refused, scoring-only settings re-score without regenerating, each task
built and its files found once; plus plan, journal, sharding and resume on the fake backend."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from blip2_bench.cli import main
from tests.conftest import read_json, read_jsonl
from tests.integration.test_scale_out import REPO, run_torchrun


def _fake(data: Path, run_dir: Path, *extra: str) -> list[str]:
    return ["backend=fake", f"data_root={data}", f"hydra.run.dir={run_dir}", *extra]


def _vqa(run_dir: Path) -> dict:
    return read_json(run_dir / "results.json")["tasks"]["vqav2"]


# --- defect 1: changed weights under the same folder are never re-reported ---------------------
@pytest.mark.slow
def test_overwritten_retrieval_weights_give_a_fresh_runs_scores(tiny_itm, flickr_data, tmp_path):
    from blip2_bench.demo.tiny_retrieval import build_tiny_blip2_retrieval

    weights = tmp_path / "weights"
    shutil.copytree(tiny_itm, weights)
    args = ["backend=tiny-itm", f"backend.model={weights}", f"data_root={flickr_data}", "task=[flickr30k]"]
    assert main([*args, f"hydra.run.dir={tmp_path / 'run'}"]) == 0
    old = read_json(tmp_path / "run" / "results.json")["tasks"]["flickr30k"]["scores"]
    other = build_tiny_blip2_retrieval(tmp_path / "other", seed=7)
    shutil.copy(other / "model.safetensors", weights / "model.safetensors")  # same folder, new weights
    assert main([*args, f"hydra.run.dir={tmp_path / 'run'}"]) == 0
    again = read_json(tmp_path / "run" / "results.json")["tasks"]["flickr30k"]
    assert main([*args, f"hydra.run.dir={tmp_path / 'fresh'}", "reuse_outputs=false"]) == 0
    fresh = read_json(tmp_path / "fresh" / "results.json")["tasks"]["flickr30k"]["scores"]
    assert again["scores"] == fresh != old
    assert again["timing"]["computed"] > 0


def test_every_backend_must_declare_identity_and_preflight(tmp_path):
    from blip2_bench.backend_api import GenerationBackend

    class NoIdentity(GenerationBackend):  # a backend that forgot identity() cannot exist
        Options = object  # type: ignore[assignment]

        @staticmethod
        def preflight(options): ...

        @staticmethod
        def traits(options): ...

        def generate(self, requests, images): ...

        def provenance(self): ...

    with pytest.raises(TypeError, match="identity"):
        NoIdentity()


# --- defect 2: a partial checkpoint is refused, unless asked for --------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["generation", "retrieval"])
def test_partial_checkpoint_is_refused_naming_folder_and_keys(
    kind, tiny_models, tiny_itm, vqa_data, flickr_data, tmp_path, capsys
):
    source = tiny_models["opt"] if kind == "generation" else tiny_itm
    weights = tmp_path / "partial"
    shutil.copytree(source, weights)
    tensors = load_file(weights / "model.safetensors")
    dropped = sorted(tensors)[:2]
    for key in dropped:
        del tensors[key]
    save_file(tensors, weights / "model.safetensors", metadata={"format": "pt"})
    if kind == "generation":
        args = ["backend=tiny-opt", f"data_root={vqa_data}"]
    else:
        args = ["backend=tiny-itm", f"data_root={flickr_data}", "task=[flickr30k]"]
    args += [f"backend.model={weights}", f"hydra.run.dir={tmp_path / 'run'}"]
    assert main(args) == 2
    out = capsys.readouterr()
    message = out.err + out.out
    assert f"checkpoint {weights} is incomplete: missing " in message and dropped[0] in message
    assert "allow_partial_weights=true" in message and not (tmp_path / "run" / "COMPLETE").exists()
    assert main([*args, "backend.allow_partial_weights=true", f"hydra.run.dir={tmp_path / 'anyway'}"]) == 0


# --- defect 3: scoring-only settings re-score the outputs already generated ----------------------
@pytest.mark.slow
def test_scorer_switch_on_a_finished_run_computes_nothing_and_scores_like_a_fresh_run(tiny_models, vqa_data, tmp_path):
    base = ["backend=tiny-opt", f"backend.model={tiny_models['opt']}", f"data_root={vqa_data}"]
    assert main([*base, f"hydra.run.dir={tmp_path / 'run'}"]) == 0
    for where in ("run", "elsewhere"):  # the same directory, and a new one
        assert main([*base, f"hydra.run.dir={tmp_path / where}", "task.vqav2.scorer=lavis"]) == 0
        assert _vqa(tmp_path / where)["timing"]["computed"] == 0
    assert main([*base, f"hydra.run.dir={tmp_path / 'fresh'}", "task.vqav2.scorer=lavis", "reuse_outputs=false"]) == 0
    fresh = _vqa(tmp_path / "fresh")
    assert fresh["timing"]["computed"] == fresh["n_samples"]
    for where in ("run", "elsewhere"):
        assert _vqa(tmp_path / where)["scores"] == fresh["scores"]
        assert _vqa(tmp_path / where)["settings"]["scorer"] == "lavis"


def test_scoring_settings_are_not_in_the_outputs_key_but_prompts_are(vqa_data, tmp_path):
    assert main(_fake(vqa_data, tmp_path / "a")) == 0
    assert main(_fake(vqa_data, tmp_path / "b", "task.vqav2.scorer=lavis")) == 0
    assert _vqa(tmp_path / "b")["timing"]["computed"] == 0
    assert main(_fake(vqa_data, tmp_path / "c", "task.vqav2.prompt='Q: {} A:'")) == 0
    assert _vqa(tmp_path / "c")["timing"]["computed"] == _vqa(tmp_path / "c")["n_samples"]


# --- defect 4: each task built once, its files found once ----------------------------------------
def test_each_task_is_built_once_and_finds_its_files_once(vqa_data, tmp_path, monkeypatch):
    from blip2_bench.plugins import load_task_class

    task_class = load_task_class("vqav2")
    counts = {"init": 0, "data_files": 0}
    real_init, real_files = task_class.__init__, task_class.data_files

    def init(self, *a, **k):
        counts["init"] += 1
        real_init(self, *a, **k)

    def data_files(self):
        counts["data_files"] += 1
        return real_files(self)

    monkeypatch.setattr(task_class, "__init__", init)
    monkeypatch.setattr(task_class, "data_files", data_files)
    assert main(_fake(vqa_data, tmp_path / "run")) == 0
    assert counts == {"init": 1, "data_files": 1}
    assert main(_fake(vqa_data, tmp_path / "run")) == 0  # re-reported: same once more
    assert counts == {"init": 2, "data_files": 2}


# --- the runner on the fake backend ---------------------------------------------------------------
def test_changed_identity_invalidates_and_outputs_follow_it(vqa_data, tmp_path):
    assert main(_fake(vqa_data, tmp_path / "run")) == 0
    first = read_jsonl(tmp_path / "run" / "samples" / "vqav2.jsonl")
    assert main(_fake(vqa_data, tmp_path / "other", "backend.seed=1")) == 0
    second = _vqa(tmp_path / "other")
    assert second["timing"]["computed"] == second["n_samples"]  # nothing reused from seed 0
    assert [r["raw_output"] for r in read_jsonl(tmp_path / "other" / "samples" / "vqav2.jsonl")] != [
        r["raw_output"] for r in first
    ]


KILL_HARNESS = Path(__file__).with_name("_kill_harness.py")


@pytest.mark.slow  # a subprocess per kill point
def test_resume_after_a_kill_at_every_journal_append_matches_an_uninterrupted_run(vqa_data, tmp_path):
    reference = tmp_path / "reference"
    assert main(_fake(vqa_data, reference, "backend.batch_size=2", "reuse_outputs=false")) == 0
    sizes = [len(entry["outputs"]) for entry in read_jsonl(reference / "journal" / "vqav2.jsonl")]
    n_batches = len(sizes)
    for point in ("before-append", "torn-append"):
        for n in range(1, n_batches + 1):
            run_dir = tmp_path / f"{point}-{n}"
            args = _fake(vqa_data, run_dir, "backend.batch_size=2", "reuse_outputs=false")
            killed = subprocess.run(
                [sys.executable, str(KILL_HARNESS), point, str(n), "--", *args],
                cwd=REPO,
                capture_output=True,
                text=True,
            )
            assert killed.returncode == -9, (point, n, killed.stderr[-2000:])
            assert main(args) == 0
            assert read_jsonl(run_dir / "samples" / "vqav2.jsonl") == read_jsonl(reference / "samples" / "vqav2.jsonl")
            assert _vqa(run_dir)["timing"]["computed"] == sum(sizes[n - 1 :])  # the n-th batch on


@pytest.mark.slow
def test_two_ranks_equal_one_rank_on_the_fake_backend(vqa_data, tmp_path):
    single, multi = tmp_path / "single", tmp_path / "multi"
    assert main(_fake(vqa_data, single, "backend.batch_size=2", "reuse_outputs=false")) == 0
    proc = run_torchrun(_fake(vqa_data, multi, "backend.batch_size=2", "reuse_outputs=false"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_jsonl(multi / "samples" / "vqav2.jsonl") == read_jsonl(single / "samples" / "vqav2.jsonl")
    assert (multi / "journal" / "vqav2.rank1.jsonl").is_file()
    assert _vqa(multi)["timing"]["computed"] == _vqa(single)["n_samples"]


def test_fake_retrieval_runs_the_three_stages(flickr_data, tmp_path):
    args = ["backend=fake-retrieval", f"data_root={flickr_data}", "task=[flickr30k]", f"hydra.run.dir={tmp_path / 'r'}"]
    assert main(args) == 0
    info = read_json(tmp_path / "r" / "results.json")["tasks"]["flickr30k"]
    assert info["n_images"] == 8 and 0 <= info["scores"]["r_mean"] <= 100
    assert (tmp_path / "r" / "journal" / "flickr30k.itm.jsonl").is_file()
    assert torch.load  # torch is importable beside the fake backend (no weights needed)


def test_empty_outputs_are_counted_in_the_results(vqa_data, tmp_path, monkeypatch):
    from blip2_bench.backends.fake import FakeBackend

    real = FakeBackend.generate

    def some_empty(self, requests, images):
        return ["" if i % 3 == 0 else text for i, text in enumerate(real(self, requests, images))]

    monkeypatch.setattr(FakeBackend, "generate", some_empty)
    assert main(_fake(vqa_data, tmp_path / "run", "backend.batch_size=3", "reuse_outputs=false")) == 0
    samples = read_jsonl(tmp_path / "run" / "samples" / "vqav2.jsonl")
    assert _vqa(tmp_path / "run")["empty_outputs"] == sum(s["raw_output"] == "" for s in samples) > 0


def test_prefetching_images_changes_no_output(vqa_data, tmp_path):
    for workers in (0, 3):
        args = _fake(vqa_data, tmp_path / f"w{workers}", "backend.batch_size=2", "reuse_outputs=false")
        assert main([*args, f"image_workers={workers}"]) == 0
    assert read_jsonl(tmp_path / "w0" / "samples" / "vqav2.jsonl") == read_jsonl(
        tmp_path / "w3" / "samples" / "vqav2.jsonl"
    )
