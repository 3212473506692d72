"""End-to-end runs of real tiny BLIP-2 models through the real CLI (in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from blip2_bench.backends.hf_blip2 import HfBlip2Backend
from blip2_bench.cli import main
from tests.conftest import journal_outputs, read_json, read_jsonl

pytestmark = pytest.mark.slow


def run_cli(family: str, model: Path, data: Path, run_dir: Path, *extra: str) -> int:
    return main(
        [f"backend=tiny-{family}", f"backend.model={model}", f"data_root={data}", f"hydra.run.dir={run_dir}", *extra]
    )


@pytest.mark.parametrize("family", ["opt", "t5"])
def test_run_writes_complete_run_directory(family, tiny_models, vqa_data, tmp_path):
    run_dir = tmp_path / "run"
    assert run_cli(family, tiny_models[family], vqa_data, run_dir, "backend.batch_size=4") == 0
    for name in [
        "results.json",
        "table.md",
        "table.csv",
        "COMPLETE",
        "run_config.json",
        "samples/vqav2.jsonl",
        "exports/vqav2_val2014_results.json",
    ]:
        assert (run_dir / name).is_file(), name
    results = read_json(run_dir / "results.json")
    task = results["tasks"]["vqav2"]
    questions = read_json(vqa_data / "v2_OpenEnded_mscoco_val2014_questions.json")["questions"]
    assert task["n_samples"] == task["n_predicted"] == len(questions) == 12
    assert set(task["scores"]["per_question"]) == {str(q["question_id"]) for q in questions}
    assert task["metric_impl"] == "vqa_accuracy:official" and task["version"] == 1
    backend = results["backend"]
    assert backend["family"] == family and backend["dtype"] == "float32" and backend["device"] == "cpu"
    assert backend["image_processing"]["class"].startswith("BlipImageProcessor")
    assert backend["weights"]["model.safetensors"].startswith("sha256:")
    assert results["config"]["backend"]["batch_size"] == 4 and results["environment"]["versions"]["torch"]
    assert set(task["data_files"]) == {"questions", "annotations"}
    records = read_jsonl(run_dir / "samples" / "vqav2.jsonl")
    assert [r["id"] for r in records] == [str(q["question_id"]) for q in questions]
    suffix = "Answer:" if family == "opt" else "Short answer:"
    assert all(r["prompt"].startswith("Question: ") and r["prompt"].endswith(suffix) for r in records)
    assert all(r["prediction"] == r["raw_output"].split("\n")[0].strip() for r in records)
    assert all(r["score"] == task["scores"]["per_question"][r["id"]] for r in records)
    table = (run_dir / "table.csv").read_text().splitlines()
    assert table[0] == "backend,task,task_version,metric,value,coverage" and table[1].startswith(
        f"tiny-{family},vqav2,1,accuracy,"
    )


def test_run_scores_equal_score_command_on_its_own_predictions(tiny_models, vqa_data, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert run_cli("opt", tiny_models["opt"], vqa_data, run_dir, "task.vqav2.scorer=lavis") == 0
    out = tmp_path / "scores.json"
    assert (
        main(
            [
                "score",
                "vqav2",
                "--questions",
                str(vqa_data / "v2_OpenEnded_mscoco_val2014_questions.json"),
                "--annotations",
                str(vqa_data / "v2_mscoco_val2014_annotations.json"),
                "--predictions",
                str(run_dir / "exports" / "vqav2_val2014_results.json"),
                "--scorer",
                "lavis",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    assert read_json(out) == read_json(run_dir / "results.json")["tasks"]["vqav2"]["scores"]


class Crash(RuntimeError):
    pass


def test_interrupted_run_resumes_without_duplicates_and_matches_uninterrupted(
    tiny_models, vqa_data, tmp_path, monkeypatch
):
    reference = tmp_path / "reference"
    assert run_cli("opt", tiny_models["opt"], vqa_data, reference, "backend.batch_size=2", "reuse_outputs=false") == 0

    real_generate = HfBlip2Backend.generate
    calls: list[int] = []

    def crashing_generate(self, requests, images):
        calls.append(len(requests))
        if len(calls) == 3:
            raise Crash("simulated crash in batch 3")
        return real_generate(self, requests, images)

    monkeypatch.setattr(HfBlip2Backend, "generate", crashing_generate)
    run_dir = tmp_path / "run"
    assert run_cli("opt", tiny_models["opt"], vqa_data, run_dir, "backend.batch_size=2") == 1
    assert not (run_dir / "results.json").exists() and not (run_dir / "COMPLETE").exists()
    assert len(read_jsonl(run_dir / "journal" / "vqav2.jsonl")) == 2  # two batches survived...
    survived = calls[0] + calls[1]
    assert len(journal_outputs(run_dir / "journal" / "vqav2.jsonl")) == survived  # ...with all their samples

    calls.clear()
    monkeypatch.setattr(HfBlip2Backend, "generate", real_generate)
    assert run_cli("opt", tiny_models["opt"], vqa_data, run_dir, "backend.batch_size=2") == 0
    outputs = journal_outputs(run_dir / "journal" / "vqav2.jsonl")
    assert len(outputs) == len({o["id"] for o in outputs}) == 12  # nothing duplicated or lost
    assert read_jsonl(run_dir / "samples" / "vqav2.jsonl") == read_jsonl(reference / "samples" / "vqav2.jsonl")
    ref_scores = read_json(reference / "results.json")["tasks"]["vqav2"]["scores"]
    assert read_json(run_dir / "results.json")["tasks"]["vqav2"]["scores"] == ref_scores
    assert read_json(run_dir / "results.json")["tasks"]["vqav2"]["timing"]["computed"] == 12 - survived


def test_complete_run_is_reported_without_loading_the_model(tiny_models, vqa_data, tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    assert run_cli("opt", tiny_models["opt"], vqa_data, run_dir, "limit=2") == 0
    before = (run_dir / "results.json").read_text()

    def no_load(self, config):
        raise AssertionError("model loaded for a complete run")

    monkeypatch.setattr(HfBlip2Backend, "__init__", no_load)
    assert run_cli("opt", tiny_models["opt"], vqa_data, run_dir, "limit=2") == 0
    assert (run_dir / "results.json").read_text() == before
    assert "accuracy" in capsys.readouterr().out
    # The same directory with another config is refused.
    assert run_cli("opt", tiny_models["opt"], vqa_data, run_dir, "limit=3") == 2


def test_default_run_dir_is_deterministic_under_results(tiny_models, vqa_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["backend=tiny-opt", f"backend.model={tiny_models['opt']}", f"data_root={vqa_data}", "limit=1"]
    assert main(args) == 0
    (run_dir,) = (tmp_path / "results" / "tiny-opt").iterdir()
    assert run_dir.name.startswith("vqav2-") and (run_dir / "COMPLETE").is_file()
    assert main(args) == 0 and len(list((tmp_path / "results" / "tiny-opt").iterdir())) == 1


def test_hf_datasets_source_runs(tiny_models, vqa_fixture_master, tmp_path):
    from blip2_bench.demo.vqav2_fixture import write_vqav2_parquet

    parquet = write_vqav2_parquet(vqa_fixture_master, tmp_path / "vqa.parquet")
    run_dir = tmp_path / "run"
    assert (
        run_cli(
            "t5",
            tiny_models["t5"],
            tmp_path,
            run_dir,
            "task.vqav2.source=hf",
            f"task.vqav2.hf_dataset={parquet}",
            "limit=3",
        )
        == 0
    )
    assert read_json(run_dir / "results.json")["tasks"]["vqav2"]["n_predicted"] == 3


def test_test_dev_run_exports_the_evalai_file_for_every_question(tiny_models, tmp_path):
    from blip2_bench.demo.vqav2_fixture import write_vqav2_fixture

    fixture = write_vqav2_fixture(tmp_path / "data", n_images=2, questions_per_image=2, subtype="test-dev2015")
    run_dir = tmp_path / "run"
    assert run_cli("opt", tiny_models["opt"], fixture.root, run_dir, "task.vqav2.split=test-dev") == 0
    task = read_json(run_dir / "results.json")["tasks"]["vqav2"]
    assert task["scores"] == {} and task["metric_impl"].startswith("none")
    submission = read_json(run_dir / "exports" / "vqav2_test-dev2015_results.json")
    assert sorted(e["question_id"] for e in submission) == sorted(fixture.question_ids)
    assert all(set(e) == {"question_id", "answer"} and isinstance(e["answer"], str) for e in submission)
