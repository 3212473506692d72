"""`blip2-bench score okvqa`: found through the task's score_command; results format; bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from blip2_bench.cli import main
from blip2_bench.demo.okvqa_gqa_fixtures import OkvqaFixture, TinyLemmaPipeline, write_okvqa_fixture
from blip2_bench.metrics import lemmatize


@pytest.fixture(scope="module")
def okvqa(tmp_path_factory: pytest.TempPathFactory) -> OkvqaFixture:
    return write_okvqa_fixture(tmp_path_factory.mktemp("okvqa"), n_images=3, questions_per_image=2)


def _score(f: OkvqaFixture, predictions: Path, *extra: str) -> int:
    args = ["--questions", str(f.questions_file), "--annotations", str(f.annotations_file)]
    return main(["score", "okvqa", *args, "--predictions", str(predictions), *extra])


def _write(path: Path, records) -> Path:
    path.write_text(json.dumps(records))
    return path


def test_listed_and_scores_a_results_file(okvqa, tmp_path, capsys, monkeypatch):
    assert main(["score", "--help"]) == 0
    assert "okvqa" in capsys.readouterr().out
    monkeypatch.setattr(lemmatize, "load_spacy", TinyLemmaPipeline)
    predictions = _write(tmp_path / "p.json", [{"question_id": q, "answer": "racing"} for q in okvqa.question_ids])
    out = tmp_path / "scores.json"
    assert _score(okvqa, predictions, "--json", str(out)) == 0
    printed = capsys.readouterr().out
    assert "OK-VQA accuracy (lavis scorer, lemmatizer spacy:en_core_web_sm):" in printed
    scores = json.loads(out.read_text())
    assert set(scores) >= {"accuracy", "per_answer_type", "per_question_type", "per_question", "per_category"}
    assert scores["per_question"][str(okvqa.question_ids[0])] == 100.0  # "racing" -> "race", as LAVIS
    assert scores["lemmatizer"] == "spacy:en_core_web_sm" and "note" not in scores
    assert _score(okvqa, predictions, "--lemmatizer", "off", "--json", str(out)) == 0
    off = json.loads(out.read_text())
    assert off["per_question"][str(okvqa.question_ids[0])] == 0.0 and "not comparable" in off["note"]


def test_without_spacy_auto_says_so_and_spacy_refuses(okvqa, tmp_path, capsys, monkeypatch):
    def missing():
        raise lemmatize.LemmatizerUnavailable("spaCy is not installed")

    monkeypatch.setattr(lemmatize, "load_spacy", missing)
    predictions = _write(tmp_path / "p.json", [{"question_id": q, "answer": "race"} for q in okvqa.question_ids])
    assert _score(okvqa, predictions) == 0
    captured = capsys.readouterr()
    assert "WARNING: lemmatizer not applied: spaCy is not installed" in captured.err
    assert "NOTE: LAVIS lemmatizes OK-VQA predictions" in captured.out
    assert _score(okvqa, predictions, "--lemmatizer", "spacy") == 2
    assert "--lemmatizer=spacy, but spaCy is not installed" in capsys.readouterr().err


@pytest.mark.parametrize(
    "records, message",
    [
        ([{"question_id": 1, "answer": "x"}], r"answer for unknown question_id 1"),
        ("partial", r"no answer for 5 of 6 questions .*--allow-partial"),
        ([{"question_id": "1", "answer": "x"}], r"record 0.question_id has the wrong type"),
        ({"question_id": 1}, r"top level should be a JSON list"),
    ],
)
def test_bad_predictions_are_one_line_errors(okvqa, tmp_path, capsys, records, message):
    if records == "partial":
        records = [{"question_id": okvqa.question_ids[0], "answer": "x"}]
    assert _score(okvqa, _write(tmp_path / "p.json", records), "--lemmatizer", "off") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert re.search(message, err), err


def test_allow_partial_says_so(okvqa, tmp_path, capsys):
    predictions = _write(tmp_path / "p.json", [{"question_id": okvqa.question_ids[0], "answer": "race"}])
    out = tmp_path / "s.json"
    assert _score(okvqa, predictions, "--allow-partial", "--lemmatizer", "off", "--json", str(out)) == 0
    assert json.loads(out.read_text())["note"].startswith("partial: scored 1 of 6 questions")


def test_the_wrong_files_are_refused(okvqa, tmp_path, capsys):
    from blip2_bench.demo.vqav2_fixture import write_vqav2_fixture

    vqa = write_vqav2_fixture(tmp_path / "vqa", n_images=1, questions_per_image=2)
    predictions = _write(tmp_path / "p.json", [{"question_id": q, "answer": "x"} for q in vqa.question_ids])
    rc = main(
        ["score", "okvqa", "--questions", str(vqa.questions_file), "--annotations", str(vqa.annotations_file)]
        + ["--predictions", str(predictions), "--lemmatizer", "off"]
    )
    assert rc == 2 and "not an OK-VQA questions file" in capsys.readouterr().err
