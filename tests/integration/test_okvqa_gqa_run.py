"""OK-VQA and GQA end to end through the real CLI on the tiny offline models, and the extension
check: both tasks came in as their own files (task plugin, helpers, configs) with no edit to the
harness they plug into."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

from blip2_bench.cli import main
from blip2_bench.demo.okvqa_gqa_fixtures import TinyLemmaPipeline, write_gqa_fixture, write_okvqa_fixture
from blip2_bench.metrics import lemmatize
from tests.conftest import read_json, read_jsonl

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def okg_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("okvqa_gqa")
    write_okvqa_fixture(root, n_images=3, questions_per_image=2)
    write_gqa_fixture(root, n_images=2, questions_per_image=3)
    return root


@pytest.fixture
def okg_data(okg_master: Path, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(okg_master, root)
    return root


@pytest.fixture
def no_spacy(monkeypatch):
    def missing():
        raise lemmatize.LemmatizerUnavailable("spaCy is not installed (pip install spacy ...)")

    monkeypatch.setattr(lemmatize, "load_spacy", missing)


def _run(family: str, model: Path, data: Path, run_dir: Path, *extra: str) -> int:
    args = [f"backend=tiny-{family}", f"backend.model={model}", f"data_root={data}", f"hydra.run.dir={run_dir}"]
    return main([*args, "task=[okvqa,gqa]", "backend.batch_size=4", *extra])


@pytest.mark.slow
@pytest.mark.parametrize("family", ["opt", "t5"])
def test_both_tasks_run_end_to_end_and_score_like_their_score_commands(
    family, tiny_models, okg_data, tmp_path, capsys, no_spacy
):
    run_dir = tmp_path / "run"
    assert _run(family, tiny_models[family], okg_data, run_dir) == 0
    results = read_json(run_dir / "results.json")
    okvqa, gqa = results["tasks"]["okvqa"], results["tasks"]["gqa"]
    assert okvqa["n_samples"] == okvqa["n_predicted"] == 6 and gqa["n_samples"] == gqa["n_predicted"] == 6
    assert okvqa["version"] == gqa["version"] == 1 and (run_dir / "COMPLETE").is_file()
    # spaCy missing: said, recorded, and the number marked not comparable.
    assert (
        okvqa["settings"]["lemmatizer"] == "none" and "spaCy is not installed" in okvqa["settings"]["lemmatizer_detail"]
    )
    assert okvqa["metric_impl"] == "vqa_accuracy:lavis+lemmatizer:none" and "not comparable" in okvqa["scores"]["note"]
    assert gqa["metric_impl"] == "gqa_accuracy:lavis" and set(okvqa["data_files"]) == {"questions", "annotations"}
    suffix = "Answer:" if family == "opt" else "Short answer:"
    for task in ("okvqa", "gqa"):
        records = read_jsonl(run_dir / "samples" / f"{task}.jsonl")
        assert all(r["prompt"].startswith("Question: ") and r["prompt"].endswith(suffix) for r in records)
        assert all(r["prediction"] == r["raw_output"].split("\n")[0].strip() for r in records)
    assert read_jsonl(run_dir / "samples" / "gqa.jsonl")[0]["id"] == "0201307251"
    # Each score command on the run's own export gives back the run's scores.
    out = tmp_path / "okvqa.json"
    exports = run_dir / "exports"
    assert (
        main(
            ["score", "okvqa", "--questions", str(okg_data / "OpenEnded_mscoco_val2014_questions.json")]
            + ["--annotations", str(okg_data / "mscoco_val2014_annotations.json")]
            + ["--predictions", str(exports / "okvqa_val2014_results.json"), "--json", str(out)]
        )
        == 0
    )
    assert read_json(out)["per_question"] == okvqa["scores"]["per_question"]
    assert read_json(out)["accuracy"] == okvqa["scores"]["accuracy"]
    out = tmp_path / "gqa.json"
    predictions = exports / "gqa_testdev_predictions.json"
    assert all(isinstance(p["questionId"], str) for p in read_json(predictions))
    questions = okg_data / "testdev_balanced_questions.json"
    assert (
        main(["score", "gqa", "--questions", str(questions), "--predictions", str(predictions), "--json", str(out)])
        == 0
    )
    assert read_json(out) == gqa["scores"]


@pytest.mark.slow
def test_lemmatizer_appearing_rescores_without_generating_and_the_report_reads_both(
    tiny_models, okg_data, tmp_path, monkeypatch, no_spacy
):
    run_dir = tmp_path / "run"
    assert _run("t5", tiny_models["t5"], okg_data, run_dir, "task.okvqa.prompt='Question: {} Short answer:'") == 0
    monkeypatch.setattr(lemmatize, "load_spacy", TinyLemmaPipeline)  # a stand-in for spaCy being installed
    assert _run("t5", tiny_models["t5"], okg_data, run_dir, "task.okvqa.prompt='Question: {} Short answer:'") == 0
    okvqa = read_json(run_dir / "results.json")["tasks"]["okvqa"]
    assert okvqa["settings"]["lemmatizer"] == "spacy:en_core_web_sm" and "note" not in okvqa["scores"]
    assert okvqa["timing"]["computed"] == 0  # the journaled outputs were re-scored, not regenerated
    records = read_jsonl(run_dir / "samples" / "okvqa.jsonl")
    pipeline = TinyLemmaPipeline()
    assert all(r["scored_answer"] == lemmatize.lemmatize_answer(r["prediction"], pipeline) for r in records)
    out = tmp_path / "report"
    assert main(["report", str(run_dir), "--out", str(out), "--resamples", "50"]) == 0
    report = json.loads((out / "report.json").read_text())
    text = json.dumps(report)
    assert "okvqa" in text and "gqa" in text and "acc[binary]" in text


def test_bad_input_through_the_cli_is_one_line_before_the_model_loads(okg_data, tmp_path, capsys, no_spacy):
    from blip2_bench.demo.vqav2_fixture import write_vqav2_fixture

    def fails(message: str, *extra: str) -> None:
        run_dir = tmp_path / "run"
        rc = _run("opt", tmp_path / "no-such-model", okg_data, run_dir, *extra)
        captured = capsys.readouterr()
        assert rc == 2 and message in captured.err + captured.out, captured.err + captured.out
        assert not (run_dir / "results.json").exists()

    vqa = write_vqav2_fixture(tmp_path / "vqa", n_images=1, questions_per_image=2)
    fails("annotations[0]: not an OK-VQA annotations file", f"task.okvqa.annotations_file={_no_info(vqa)}")
    fails("not an OK-VQA questions file", f"task.okvqa.questions_file={vqa.questions_file}")
    (okg_data / "mscoco_val2014_annotations.json").unlink()
    fails("OK-VQA annotations file not found")
    write_okvqa_fixture(okg_data, n_images=3, questions_per_image=2)
    lavis = tmp_path / "gqa_list.json"
    lavis.write_text(json.dumps([{"image": "n1.jpg", "question": "q?", "question_id": 1, "answer": "yes"}]))
    fails("LAVIS's converted GQA file", f"task.gqa.questions_file={lavis}")
    fails("task.okvqa.lemmatizer=spacy, but spaCy is not installed", "task.okvqa.lemmatizer=spacy")


def _no_info(vqa) -> Path:
    doc = json.loads(vqa.annotations_file.read_text())
    doc.pop("info")
    path = vqa.annotations_file.with_name("mscoco_val2014_annotations.json")
    path.write_text(json.dumps(doc))
    return path


# --- the extension check -------------------------------------------------------------------------
NEW_MODULES = {
    "blip2_bench.data.okvqa",
    "blip2_bench.data.gqa",
    "blip2_bench.metrics.lemmatize",
    "blip2_bench.metrics.okvqa_accuracy",
    "blip2_bench.metrics.gqa_accuracy",
    "blip2_bench.scoring.okvqa",
    "blip2_bench.scoring.gqa",
}
# What the tasks use of the harness, all of it existing API imported as is: the task contract, the
# data types, LAVIS's question preprocessing, the data_root search and JSON checks, VQAv2's sample
# type and image naming, the VQA metric (and its normalization helpers, shared with GQA), VQAv2's
# results-file reader and the crash-safe JSON writer.
SHARED_MODULES = {
    "blip2_bench.task_api",
    "blip2_bench.task_api.short_answer",
    "blip2_bench.types",
    "blip2_bench.text",
    "blip2_bench.errors",
    "blip2_bench.files",
    "blip2_bench.data.locate",
    "blip2_bench.data.json_files",
    "blip2_bench.data.vqav2",
    "blip2_bench.metrics.vqa_accuracy",
    "blip2_bench.scoring.vqav2",
    "blip2_bench.scoring.partial",  # the --allow-partial refusal every VQA-style score command shares
}


def _harness_imports(path: Path, package: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            if name.startswith("blip2_bench"):
                found.add(name)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("blip2_bench")}
    return found


def test_the_new_tasks_plug_in_without_editing_the_harness():
    from blip2_bench.plugins import load_task_class, task_files

    # Found by file name in the built-in plugin folder; their configs compose (tests/integration/
    # test_configs.py); their score commands through the score_command hook.
    assert {"okvqa", "gqa"} <= set(task_files())
    assert load_task_class("okvqa").score_command == "blip2_bench.scoring.okvqa:main"
    assert load_task_class("gqa").score_command == "blip2_bench.scoring.gqa:main"
    used: set[str] = set()
    for name in ("okvqa", "gqa"):
        used |= _harness_imports(REPO / "tasks" / f"{name}.py", "tasks")
    for module in NEW_MODULES:
        path = REPO / (module.replace(".", "/") + ".py")
        used |= _harness_imports(path, module.rsplit(".", 1)[0])
    assert used - NEW_MODULES <= SHARED_MODULES, sorted(used - NEW_MODULES - SHARED_MODULES)
    for conf in ("task/okvqa.yaml", "task/gqa.yaml", "experiment/paper_okvqa.yaml", "experiment/paper_gqa.yaml"):
        assert (REPO / "conf" / conf).is_file()


def test_score_commands_import_no_model_stack(okg_data, tmp_path):
    import subprocess
    import sys

    gqa = [
        {"questionId": q, "prediction": "yes"}
        for q in json.loads((okg_data / "testdev_balanced_questions.json").read_text())
    ]
    okvqa = json.loads((okg_data / "OpenEnded_mscoco_val2014_questions.json").read_text())["questions"]
    (tmp_path / "g.json").write_text(json.dumps(gqa))
    (tmp_path / "o.json").write_text(json.dumps([{"question_id": q["question_id"], "answer": "yes"} for q in okvqa]))
    driver = (
        "import json, sys; from blip2_bench.cli import main; rc = main(sys.argv[1:]); "
        "print(json.dumps([rc, [m for m in ('torch', 'transformers', 'datasets', 'accelerate') if m in sys.modules]]))"
    )
    for argv in (
        [
            "gqa",
            "--questions",
            str(okg_data / "testdev_balanced_questions.json"),
            "--predictions",
            str(tmp_path / "g.json"),
        ],
        ["okvqa", "--questions", str(okg_data / "OpenEnded_mscoco_val2014_questions.json")]
        + ["--annotations", str(okg_data / "mscoco_val2014_annotations.json")]
        + ["--predictions", str(tmp_path / "o.json"), "--lemmatizer", "off"],
    ):
        proc = subprocess.run(
            [sys.executable, "-c", driver, "score", *argv], capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert json.loads(proc.stdout.strip().splitlines()[-1]) == [0, []]
