"""coco_caption and nocaps end to end with tiny real BLIP-2 models, and `blip2-bench score` for captions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from blip2_bench.backends.hf_blip2 import HfBlip2Backend
from blip2_bench.cli import main
from blip2_bench.data.coco_captions import read_coco_caption_file
from blip2_bench.demo.caption_fixture import CaptionFixture, write_caption_fixture
from blip2_bench.metrics import meteor
from blip2_bench.metrics.captions import DOMAINS, METRIC_KEYS
from tests.conftest import read_json, read_jsonl
from tests.unit._caption_reference import official_eval, unseen_predictions


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> CaptionFixture:
    return write_caption_fixture(tmp_path_factory.mktemp("caption_data"))


def run_cli(family: str, model: Path, data_root: Path, run_dir: Path, *extra: str) -> int:
    args = [f"backend=tiny-{family}", f"backend.model={model}", f"data_root={data_root}", f"hydra.run.dir={run_dir}"]
    return main([*args, *extra])


def score(task: str, annotations: Path, predictions: Path, *extra: str) -> int:
    return main(["score", task, "--annotations", str(annotations), "--predictions", str(predictions), *extra])


@pytest.fixture(scope="module")
def opt_run(tiny_models, data, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("opt_run") / "run"
    assert run_cli("opt", tiny_models["opt"], data.root, run_dir, "task=[coco_caption,nocaps]") == 0
    return run_dir


@pytest.mark.slow
@pytest.mark.java
def test_both_tasks_run_end_to_end(opt_run, data):
    for name in ["COMPLETE", "samples/coco_caption.jsonl", "samples/nocaps.jsonl"]:
        assert (opt_run / name).is_file(), name
    results = read_json(opt_run / "results.json")
    coco, nocaps = results["tasks"]["coco_caption"], results["tasks"]["nocaps"]
    assert coco["n_samples"] == coco["n_predicted"] == len(data.coco_ids) and coco["version"] == 1
    assert [k for k in coco["scores"] if k in METRIC_KEYS] == list(METRIC_KEYS)
    assert "jars not found" in coco["scores"]["not_computed"]["SPICE"]  # visible, never a silent 0
    assert "SPICE" not in coco["scores"] and "numpy scorers (pycocoevalcap 1.2" in coco["metric_impl"]
    assert coco["settings"]["prompt"] == "a photo of" and coco["settings"]["generation"]["min_new_tokens"] == 8
    assert list(nocaps["scores"])[:5] == [*DOMAINS, "entire", "df"] and nocaps["scores"]["df"] == "global"
    records = read_jsonl(opt_run / "samples" / "coco_caption.jsonl")
    assert [r["image_id"] for r in records] == list(data.coco_ids)
    for r in records:
        assert r["prompt"] == "a photo of" and r["prediction"] == r["raw_output"].split("\n")[0].strip()
        assert not r["prediction"].startswith("a photo of")  # the continuation only
        assert r["CIDEr"] == coco["scores"]["per_image"][r["id"]]["CIDEr"]
    nocaps_records = read_jsonl(opt_run / "samples" / "nocaps.jsonl")
    assert {r["domain"] for r in nocaps_records} == set(DOMAINS)
    table = (opt_run / "table.csv").read_text()
    assert "coco_caption,1,CIDEr x100," in table and "nocaps,1,out-domain CIDEr x100," in table
    exported = read_json(opt_run / "exports" / "nocaps_val_results.json")
    assert [e["image_id"] for e in exported] == list(data.nocaps_val_ids)


@pytest.mark.slow
@pytest.mark.java
def test_score_command_on_the_runs_exports_equals_the_run(opt_run, data, tmp_path):
    results = read_json(opt_run / "results.json")["tasks"]
    out = tmp_path / "coco.json"
    exports = opt_run / "exports"
    assert score("coco_caption", data.coco_gt, exports / "coco_karpathy_test_results.json", "--json", str(out)) == 0
    assert read_json(out) == results["coco_caption"]["scores"]
    assert score("nocaps", data.nocaps_val, exports / "nocaps_val_results.json", "--json", str(out)) == 0
    assert read_json(out) == results["nocaps"]["scores"]


@pytest.mark.slow
@pytest.mark.java
def test_t5_karpathy_form_and_nocaps_test_export(tiny_models, data, tmp_path):
    run_dir = tmp_path / "run"
    extra = ["task=[coco_caption,nocaps]", "task.coco_caption.source=karpathy", "task.nocaps.split=test", "limit=3"]
    assert run_cli("t5", tiny_models["t5"], data.root, run_dir, *extra) == 0
    tasks = read_json(run_dir / "results.json")["tasks"]
    assert tasks["coco_caption"]["settings"]["source"] == "karpathy"
    assert set(tasks["coco_caption"]["data_files"]) == {"annotations"}
    assert len(tasks["coco_caption"]["scores"]["per_image"]) == 3
    assert "no public references" in tasks["nocaps"]["scores"]["note"] and tasks["nocaps"]["table"] == {}
    submission = read_json(run_dir / "exports" / "nocaps_test_results.json")
    assert len(submission) == 3 and all(set(e) == {"image_id", "caption"} for e in submission)
    assert all(isinstance(e["image_id"], int) and isinstance(e["caption"], str) for e in submission)


@pytest.mark.slow
def test_missing_java_stops_the_run_before_the_model_loads(tiny_models, data, tmp_path, monkeypatch):
    def no_load(self, config):
        raise AssertionError("model loaded")

    monkeypatch.setattr(HfBlip2Backend, "__init__", no_load)
    monkeypatch.setenv("PATH", str(tmp_path))
    run_dir = tmp_path / "run"
    assert run_cli("opt", tiny_models["opt"], data.root, run_dir, "task=[coco_caption]") == 2
    assert not (run_dir / "results.json").exists() and not (run_dir / "COMPLETE").exists()


# --- `blip2-bench score` on caption sets it was not developed on ------------------------------------
def _write_predictions(path: Path, preds: dict[int, str]) -> Path:
    path.write_text(json.dumps([{"image_id": i, "caption": c} for i, c in preds.items()]), encoding="utf-8")
    return path


@pytest.mark.java
@pytest.mark.parametrize("df", ["global", "per-domain"])
def test_score_nocaps_reproduces_pycocoevalcap(data, tmp_path, df):
    gt = read_coco_caption_file(data.nocaps_val, "nocaps")
    preds = unseen_predictions(gt.refs, seed=21)
    predictions = _write_predictions(tmp_path / "p.json", preds)
    out = tmp_path / "scores.json"
    assert score("nocaps", data.nocaps_val, predictions, "--df", df, "--json", str(out)) == 0
    ours = read_json(out)
    entire, entire_per_image = official_eval(data.nocaps_val, json.loads(predictions.read_text()))
    domains = {i["id"]: i["domain"] for i in json.loads(data.nocaps_val.read_text())["images"]}
    for domain in DOMAINS:
        members = [i for i in gt.refs if domains[i] == domain]
        expected, _ = official_eval(data.nocaps_val, json.loads(predictions.read_text()), members)
        if df == "global":
            expected["CIDEr"] = sum(entire_per_image[i]["CIDEr"] for i in members) / len(members)
        assert ours[domain] == pytest.approx(expected, abs=1e-9, rel=0)
    assert ours["entire"] == pytest.approx(entire, abs=1e-9, rel=0) and ours["df"] == df


@pytest.mark.java
def test_score_coco_caption_reproduces_pycocoevalcap(data, tmp_path, capsys):
    gt = read_coco_caption_file(data.coco_gt, "gt")
    predictions = _write_predictions(tmp_path / "p.json", unseen_predictions(gt.refs, seed=33))
    out = tmp_path / "scores.json"
    assert score("coco_caption", data.coco_gt, predictions, "--json", str(out)) == 0
    expected, per_image = official_eval(data.coco_gt, json.loads(predictions.read_text()))
    ours = read_json(out)
    assert {k: ours[k] for k in METRIC_KEYS} == pytest.approx(expected, abs=1e-9, rel=0)
    for image_id, values in per_image.items():
        assert ours["per_image"][str(image_id)] == pytest.approx(values, abs=1e-9, rel=0)
    printed = capsys.readouterr().out
    assert "CIDEr" in printed and "SPICE: not computed: SPICE 1.0 jars not found" in printed


# --- bad input: a clear message, a non-zero exit, nothing written -----------------------------------
def _refs(data: CaptionFixture) -> dict[int, str]:
    return {i: "a dog on a couch" for i in data.coco_ids}


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda p: {k: v for k, v in list(p.items())[2:]}, r"no caption for 2 of 6 images \(e.g. image_id \d+, \d+\)"),
        (lambda p: {**p, 12345: "x"}, "unknown image_id 12345"),
        (lambda p: {}, "no predictions"),
    ],
)
def test_score_refuses_incomplete_or_foreign_predictions(data, tmp_path, capsys, edit, message):
    predictions = _write_predictions(tmp_path / "p.json", edit(_refs(data)))
    out = tmp_path / "scores.json"
    assert score("coco_caption", data.coco_gt, predictions, "--json", str(out)) == 2
    assert not out.exists()
    assert re.search(message, capsys.readouterr().err)


def test_score_refuses_duplicates_and_wrong_types(data, tmp_path, capsys):
    first = data.coco_ids[0]
    doubled = tmp_path / "p.json"
    doubled.write_text(json.dumps([{"image_id": first, "caption": "a"}, {"image_id": first, "caption": "b"}]))
    assert score("coco_caption", data.coco_gt, doubled) == 2
    assert f"record 1: duplicate image_id {first}" in capsys.readouterr().err
    doubled.write_text(json.dumps([{"image_id": str(first), "caption": "a"}]))
    assert score("coco_caption", data.coco_gt, doubled) == 2
    assert "record 0.image_id has the wrong type str" in capsys.readouterr().err


@pytest.mark.parametrize(
    "task, annotations, message",
    [
        ("coco_caption", "coco_test", "a JSON list, not the COCO caption format"),
        ("coco_caption", "karpathy", "looks like Karpathy's dataset_coco.json"),
        ("nocaps", "coco_gt", "lacks 'domain' (expected the NoCaps val file)"),
    ],
)
def test_score_refuses_annotation_files_of_the_wrong_form(data, tmp_path, capsys, task, annotations, message):
    predictions = _write_predictions(tmp_path / "p.json", _refs(data))
    assert score(task, getattr(data, annotations), predictions) == 2
    assert message in capsys.readouterr().err


@pytest.mark.java
def test_allow_partial_scores_the_subset_and_says_so(data, tmp_path, capsys):
    predictions = _write_predictions(tmp_path / "p.json", dict(list(_refs(data).items())[:4]))
    out = tmp_path / "scores.json"
    assert score("coco_caption", data.coco_gt, predictions, "--allow-partial", "--json", str(out)) == 0
    assert "NOTE: partial: scored 4 of 6 images" in capsys.readouterr().out
    assert read_json(out)["note"].startswith("partial: scored 4 of 6 images") and len(read_json(out)["per_image"]) == 4


def test_score_without_java_fails_clearly(data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    out = tmp_path / "scores.json"
    assert (
        score("coco_caption", data.coco_gt, _write_predictions(tmp_path / "p.json", _refs(data)), "--json", str(out))
        == 2
    )
    assert "Java not found on PATH" in capsys.readouterr().err and not out.exists()


@pytest.mark.java
def test_score_with_a_failing_scorer_fails_clearly(data, tmp_path, capsys, monkeypatch):
    meteor.shutdown()
    monkeypatch.setattr(meteor, "JAR", "no-such.jar")  # a METEOR whose JVM dies at once
    out = tmp_path / "scores.json"
    assert (
        score("coco_caption", data.coco_gt, _write_predictions(tmp_path / "p.json", _refs(data)), "--json", str(out))
        == 1
    )
    assert "METEOR failed" in capsys.readouterr().err and not out.exists()
