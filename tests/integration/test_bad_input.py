"""Bad input through the real CLI: one clear line, exit 2, and no final results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blip2_bench.cli import main
from tests.conftest import read_json
from tests.integration.test_run_end_to_end import run_cli

Q = "v2_OpenEnded_mscoco_val2014_questions.json"
A = "v2_mscoco_val2014_annotations.json"


def _assert_failed(rc: int, run_dir: Path, capsys, message: str, code: int = 2) -> None:
    assert rc == code
    captured = capsys.readouterr()
    assert message in captured.err + captured.out
    assert not (run_dir / "results.json").exists() and not (run_dir / "COMPLETE").exists()


def score_vqa(data: Path, predictions: Path, *extra: str) -> int:
    return main(
        [
            "score",
            "vqav2",
            "--questions",
            str(data / Q),
            "--annotations",
            str(data / A),
            "--predictions",
            str(predictions),
            *extra,
        ]
    )


def _first_image(data: Path) -> Path:
    return sorted((data / "val2014").iterdir())[0]


def test_unknown_task_and_backend_names(tmp_path, capsys):
    assert main(["task=[vqa2]", f"hydra.run.dir={tmp_path}"]) == 2
    assert main(["backend=blip2-opt-2.7", f"hydra.run.dir={tmp_path}"]) == 2
    assert main(["+backend.impl=hf_blip", f"hydra.run.dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'vqav2'" in err and "did you mean 'blip2-opt-2.7b'" in err


def test_missing_data_fails_before_the_model_loads(tmp_path, capsys):
    run_dir = tmp_path / "run"
    rc = main(["backend.model=/nonexistent/weights", f"data_root={tmp_path / 'nodata'}", f"hydra.run.dir={run_dir}"])
    _assert_failed(rc, run_dir, capsys, "VQAv2 questions file not found")


def test_missing_weights_are_reported_clearly(vqa_data, tmp_path, capsys):
    run_dir = tmp_path / "run"
    rc = run_cli("opt", tmp_path / "no-such-model", vqa_data, run_dir, "limit=1")
    _assert_failed(rc, run_dir, capsys, "no BLIP-2 checkpoint (config.json) in local folder")


def test_family_mismatch_is_refused(tiny_models, vqa_data, tmp_path, capsys):
    run_dir = tmp_path / "run"
    rc = run_cli("t5", tiny_models["opt"], vqa_data, run_dir, "limit=1")
    _assert_failed(rc, run_dir, capsys, "family='t5' but")


def test_malformed_annotations(tiny_models, vqa_data, tmp_path, capsys):
    (vqa_data / A).write_text("{ not json")
    run_dir = tmp_path / "run"
    _assert_failed(run_cli("opt", tiny_models["opt"], vqa_data, run_dir), run_dir, capsys, "malformed JSON")


def test_missing_image_fails_before_generation(tiny_models, vqa_data, tmp_path, capsys):
    missing = _first_image(vqa_data)
    missing.unlink()
    run_dir = tmp_path / "run"
    _assert_failed(
        run_cli("opt", tiny_models["opt"], vqa_data, run_dir), run_dir, capsys, f"image not found: {missing}"
    )


def test_corrupt_image_fails_by_default_and_is_skipped_when_asked(tiny_models, vqa_data, tmp_path, capsys):
    corrupt = _first_image(vqa_data)
    corrupt.write_bytes(corrupt.read_bytes()[:100])  # truncated JPEG
    image_id = int(corrupt.stem.rsplit("_", 1)[1])
    run_dir = tmp_path / "run"
    _assert_failed(
        run_cli("opt", tiny_models["opt"], vqa_data, run_dir),
        run_dir,
        capsys,
        f"corrupt or unreadable image: {corrupt}",
    )

    run_dir = tmp_path / "skip"
    assert run_cli("opt", tiny_models["opt"], vqa_data, run_dir, "on_bad_image=skip") == 0
    task = read_json(run_dir / "results.json")["tasks"]["vqav2"]
    questions = read_json(vqa_data / Q)["questions"]
    expected = sorted(str(q["question_id"]) for q in questions if q["image_id"] == image_id)
    assert task["skipped_images"] == expected and task["n_predicted"] == 12 - len(expected)
    assert set(task["scores"]["per_question"]) == {str(q["question_id"]) for q in questions} - set(expected)


def test_empty_split(tiny_models, vqa_data, tmp_path, capsys):
    doc = read_json(vqa_data / Q)
    doc["questions"] = []
    (vqa_data / Q).write_text(json.dumps(doc))
    run_dir = tmp_path / "run"
    _assert_failed(run_cli("opt", tiny_models["opt"], vqa_data, run_dir), run_dir, capsys, "'questions' is empty")


@pytest.mark.parametrize(
    "predictions, message",
    [
        ("drop", "no answer for 1 of 12 questions"),
        ("unknown", "answer for unknown question_id 999"),
        ("duplicate", "duplicate question_id"),
        ("badtype", "record 0.answer has the wrong type"),
    ],
)
def test_score_command_bad_predictions(vqa_data, tmp_path, capsys, predictions, message):
    questions = read_json(vqa_data / Q)["questions"]
    preds = [{"question_id": q["question_id"], "answer": "yes"} for q in questions]
    if predictions == "drop":
        preds.pop()
    elif predictions == "unknown":
        preds.append({"question_id": 999, "answer": "no"})
    elif predictions == "duplicate":
        preds.append(dict(preds[0]))
    else:
        preds[0]["answer"] = 3
    path = tmp_path / "p.json"
    path.write_text(json.dumps(preds))
    out = tmp_path / "s.json"
    rc = score_vqa(vqa_data, path, "--json", str(out))
    assert rc == 2 and message in capsys.readouterr().err and not out.exists()


def test_score_command_allow_partial_says_so(vqa_data, tmp_path, capsys):
    questions = read_json(vqa_data / Q)["questions"]
    path = tmp_path / "p.json"
    path.write_text(json.dumps([{"question_id": q["question_id"], "answer": "yes"} for q in questions[:5]]))
    out = tmp_path / "s.json"
    assert (
        main(
            [
                "score",
                "vqav2",
                "--questions",
                str(vqa_data / Q),
                "--annotations",
                str(vqa_data / A),
                "--predictions",
                str(path),
                "--allow-partial",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    scores = read_json(out)
    assert len(scores["per_question"]) == 5 and scores["note"].startswith("partial: scored 5 of 12")
    assert "partial" in capsys.readouterr().out


def test_score_command_unknown_task_and_bad_args(capsys):
    assert main(["score", "vqa"]) == 2
    assert "did you mean 'vqav2'" in capsys.readouterr().err
    assert main(["score", "vqav2", "--questions", "x"]) == 2


def test_skipped_image_is_retried_when_an_interrupted_run_resumes(tiny_models, vqa_data, tmp_path):
    image = _first_image(vqa_data)
    good = image.read_bytes()
    image.write_bytes(good[:100])
    run_dir = tmp_path / "run"
    assert run_cli("opt", tiny_models["opt"], vqa_data, run_dir, "on_bad_image=skip", "backend.batch_size=3") == 0
    assert read_json(run_dir / "results.json")["tasks"]["vqav2"]["skipped_images"]
    (run_dir / "COMPLETE").unlink()  # as if killed before the end
    image.write_bytes(good)  # the file is fixed meanwhile
    assert run_cli("opt", tiny_models["opt"], vqa_data, run_dir, "on_bad_image=skip", "backend.batch_size=3") == 0
    task = read_json(run_dir / "results.json")["tasks"]["vqav2"]
    assert task["skipped_images"] == [] and task["n_predicted"] == 12
    assert task["timing"]["computed"] == 3  # only the batch that held the skipped image


def test_lone_surrogate_in_an_answer_is_bad_input(vqa_data, tmp_path, capsys):
    questions = read_json(vqa_data / Q)["questions"]
    path = tmp_path / "p.json"
    path.write_text(json.dumps([{"question_id": q["question_id"], "answer": "a \ud800 b"} for q in questions]))
    rc = score_vqa(vqa_data, path)
    assert rc == 2 and "invalid Unicode (a lone surrogate)" in capsys.readouterr().err


@pytest.mark.parametrize("task", ["vqav2", "okvqa", "gqa"])
def test_allow_partial_with_nothing_answered_is_one_line(task: str, tmp_path: Path, capsys) -> None:
    from blip2_bench.demo.okvqa_gqa_fixtures import write_gqa_fixture, write_okvqa_fixture
    from blip2_bench.demo.vqav2_fixture import write_vqav2_fixture

    if task == "gqa":
        files = ["--questions", str(write_gqa_fixture(tmp_path / "d").questions_file)]
    else:
        fixture = (write_vqav2_fixture if task == "vqav2" else write_okvqa_fixture)(tmp_path / "d")
        files = ["--questions", str(fixture.questions_file), "--annotations", str(fixture.annotations_file)]
    empty = tmp_path / "p.json"
    empty.write_text("[]")
    out = tmp_path / "s.json"
    extra = ["--lemmatizer", "off"] if task == "okvqa" else []
    rc = main(["score", task, *files, "--predictions", str(empty), "--allow-partial", *extra, "--json", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "p.json: answers none of the" in err and "nothing to score" in err
    assert "Traceback" not in err and not out.exists()


def test_a_lone_surrogate_in_a_printed_type_is_escaped_not_a_crash(vqa_data, tmp_path):
    # json.load lets "\ud800" through in fields nobody tokenizes (answer_type, question_type), and
    # a real stdout cannot encode it: the scores are printed escaped and written, not a traceback.
    import subprocess
    import sys

    annotations = read_json(vqa_data / A)
    annotations["annotations"][0]["answer_type"] = "odd \ud800"
    (vqa_data / A).write_text(json.dumps(annotations))
    questions = read_json(vqa_data / Q)["questions"]
    predictions, out = tmp_path / "p.json", tmp_path / "scores.json"
    predictions.write_text(json.dumps([{"question_id": q["question_id"], "answer": "yes"} for q in questions]))
    args = ["score", "vqav2", "--questions", str(vqa_data / Q), "--annotations", str(vqa_data / A)]
    command = [sys.executable, "-m", "blip2_bench.cli", *args, "--predictions", str(predictions), "--json", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", errors="strict")
    assert done.returncode == 0, done.stderr
    assert "odd \\ud800" in done.stdout and "odd \ud800" in read_json(out)["per_answer_type"]
