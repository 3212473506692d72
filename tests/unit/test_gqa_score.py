"""`blip2-bench score gqa`: the official predictions format [{"questionId", "prediction"}]; bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from blip2_bench.cli import main
from blip2_bench.demo.okvqa_gqa_fixtures import GqaFixture, write_gqa_fixture


@pytest.fixture(scope="module")
def gqa(tmp_path_factory: pytest.TempPathFactory) -> GqaFixture:
    return write_gqa_fixture(tmp_path_factory.mktemp("gqa"), n_images=2, questions_per_image=3)


def _score(f: GqaFixture, predictions: Path, *extra: str) -> int:
    return main(["score", "gqa", "--questions", str(f.questions_file), "--predictions", str(predictions), *extra])


def _write(path: Path, records) -> Path:
    path.write_text(json.dumps(records))
    return path


def _gold(f: GqaFixture) -> list[dict]:
    return [{"questionId": q, "prediction": f.answers[q]} for q in f.question_ids]


def test_listed_and_scores_every_scorer(gqa, tmp_path, capsys):
    assert main(["score", "--help"]) == 0
    assert "gqa" in capsys.readouterr().out
    predictions = _write(tmp_path / "p.json", _gold(gqa))  # the gold answers, "t-shirt" among them
    out = tmp_path / "s.json"
    results = {}
    for scorer in ("lavis", "lavis-2023-12", "official"):
        assert _score(gqa, predictions, "--scorer", scorer, "--json", str(out)) == 0
        results[scorer] = json.loads(out.read_text())
    assert f"GQA accuracy (official scorer): {100:.2f}" in capsys.readouterr().out
    assert results["official"]["accuracy"] == results["lavis-2023-12"]["accuracy"] == 100.0
    assert results["lavis"]["accuracy"] == pytest.approx(500 / 6)  # raw gold "t-shirt" vs "t shirt"
    assert set(results["lavis"]) >= {"binary", "open", "per_structural_type", "per_semantic_type", "per_question"}
    assert results["lavis"]["per_question"]["0201307251"] == 100.0  # the id's leading zero is kept


def test_unbalanced_questions_need_no_prediction(gqa, tmp_path):
    doc = json.loads(gqa.questions_file.read_text())
    doc["20968142"]["isBalanced"] = False
    questions = _write(tmp_path / "q.json", doc)
    predictions = _write(tmp_path / "p.json", [p for p in _gold(gqa) if p["questionId"] != "20968142"])
    assert main(["score", "gqa", "--questions", str(questions), "--predictions", str(predictions)]) == 0
    everything = _write(tmp_path / "all.json", _gold(gqa))  # a prediction for it is allowed, and ignored
    out = tmp_path / "s.json"
    assert (
        main(["score", "gqa", "--questions", str(questions), "--predictions", str(everything), "--json", str(out)]) == 0
    )
    assert "20968142" not in json.loads(out.read_text())["per_question"]


@pytest.mark.parametrize(
    "records, message",
    [
        (
            [{"questionId": 20968142, "prediction": "x"}],
            r"record 0.questionId is the number 20968142; GQA question ids",
        ),
        ([{"questionId": "1", "prediction": "x"}], r"prediction for unknown questionId '1'"),
        ([{"questionId": "20968142", "prediction": 3}], r"record 0.prediction has the wrong type"),
        ([{"question_id": "20968142", "answer": "x"}], r"record 0 lacks key\(s\) 'questionId', 'prediction'"),
        ("partial", r"no prediction for 5 of 6 balanced questions .*--allow-partial"),
        ("duplicate", r"record 1: duplicate questionId '0201307251'"),
    ],
)
def test_bad_predictions_are_one_line_errors(gqa, tmp_path, capsys, records, message):
    if records == "partial":
        records = _gold(gqa)[:1]
    elif records == "duplicate":
        records = _gold(gqa)[:1] * 2
    assert _score(gqa, _write(tmp_path / "p.json", records)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(message, err), err


def test_allow_partial_says_so(gqa, tmp_path):
    out = tmp_path / "s.json"
    assert _score(gqa, _write(tmp_path / "p.json", _gold(gqa)[:2]), "--allow-partial", "--json", str(out)) == 0
    scores = json.loads(out.read_text())
    assert scores["note"].startswith("partial: scored 2 of 6 questions") and scores["counts"]["questions"] == 2


def test_lavis_converted_file_is_refused(tmp_path, capsys):
    questions = _write(tmp_path / "testdev_balanced_questions.json", [{"image": "n1.jpg", "question": "q"}])
    assert main(["score", "gqa", "--questions", str(questions), "--predictions", str(questions)]) == 2
    assert "LAVIS's converted GQA file" in capsys.readouterr().err
