"""The fast one-pass readers of VQAv2 files accept and refuse exactly what the record-by-record
checks do, with the same one-line errors (file and record named)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blip2_bench import json_parts
from blip2_bench.data import vqav2_official
from blip2_bench.data.json_files import read_json, read_keyed_results
from blip2_bench.data.vqav2_official import _annotations_checked, _questions_checked, read_official
from blip2_bench.errors import BadInputError
from blip2_bench.scoring.vqav2 import read_answers

Q = "v2_OpenEnded_mscoco_val2014_questions.json"
A = "v2_mscoco_val2014_annotations.json"


@pytest.fixture(params=["one process", "three processes"])
def readers(request, monkeypatch) -> str:
    """Every reader test runs twice: the annotations parsed in one piece, then in three
    processes (json_parts), which must accept, refuse and return exactly the same."""
    if request.param == "three processes":
        monkeypatch.setattr(json_parts, "MIN_PARALLEL_BYTES", 0)
        monkeypatch.setattr(vqav2_official, "default_workers", lambda: 3)
    else:
        monkeypatch.setattr(vqav2_official, "default_workers", lambda: 1)
    return request.param


def _edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))  # json.dumps writes a lone surrogate as the escape "\ud800"


def _answers(doc: dict, i: int) -> list[dict]:
    return doc["annotations"][i]["answers"]


def test_fast_reader_returns_what_the_record_checks_return(readers: str, vqa_data: Path) -> None:
    data = read_official(vqa_data / Q, vqa_data / A)
    annotations = _annotations_checked(read_json(vqa_data / A, "a"), vqa_data / A)
    questions = _questions_checked(read_json(vqa_data / Q, "q")["questions"], vqa_data / Q, annotations, vqa_data / A)
    assert data.annotations == annotations and data.questions == questions and data.subtype == "val2014"
    raw = json.loads((vqa_data / A).read_text())["annotations"][0]
    assert annotations[raw["question_id"]] == (
        tuple(a["answer"] for a in raw["answers"]),
        raw["answer_type"],
        raw["question_type"],
    )
    assert [q[0] for q in read_official(vqa_data / Q, vqa_data / A, limit=2).questions] == [q[0] for q in questions[:2]]


@pytest.mark.parametrize(
    "target, change, message",
    [
        # JSON strings where answer objects belong, one-character ones included (CPython shares those).
        (
            A,
            lambda d: d["annotations"][2].update(answers=["a"] * 10),
            r"annotations\[2\]\.answers\[0\] should be a JSON object, got str",
        ),
        (
            A,
            lambda d: _answers(d, 1)[3].update(answer="x\ud800"),
            r"annotations\[1\]\.answers\[3\]\.answer holds invalid Unicode",
        ),
        (A, lambda d: _answers(d, 0)[2].pop("answer"), r"annotations\[0\]\.answers\[2\] lacks key\(s\) 'answer'"),
        (
            A,
            lambda d: d["annotations"].__setitem__(0, {"answer": "yes", "answer_id": 1}),
            r"annotations\[0\] lacks key\(s\) 'question_id', 'answers'",
        ),
        (
            A,
            lambda d: d["annotations"][4].update(question_id=True),
            r"annotations\[4\]\.question_id has the wrong type bool",
        ),
        (A, lambda d: d["annotations"][5].update(answers=[]), r"annotations\[5\]: no human answers"),
        (
            A,
            lambda d: d["annotations"][5].update(answers={"answer": "yes"}),
            r"annotations\[5\]\.answers should be a JSON list",
        ),
        (A, lambda d: d.update(annotations={}), r"'annotations' should be a JSON list, got dict"),
        (
            Q,
            lambda d: d["questions"][1].update(question="why\udfff"),
            r"questions\[1\]\.question holds invalid Unicode",
        ),
        (Q, lambda d: d["questions"][3].update(image_id=False), r"questions\[3\]\.image_id has the wrong type bool"),
        (Q, lambda d: d["questions"].__setitem__(2, [1, 2]), r"questions\[2\] should be a JSON object, got list"),
    ],
)
def test_refused_with_the_record_named(readers: str, vqa_data: Path, target: str, change, message: str) -> None:
    _edit(vqa_data / target, change)
    with pytest.raises(BadInputError, match=message) as info:
        read_official(vqa_data / Q, vqa_data / A)
    assert str(info.value).startswith(str(vqa_data / target)) and "\n" not in str(info.value)


def test_annotations_failing_the_fast_pass_are_still_read_when_valid(readers: str, vqa_data: Path) -> None:
    expected = read_official(vqa_data / Q, vqa_data / A).annotations
    assert expected is not None

    def change(d: dict) -> None:
        _answers(d, 0)[0]["note"] = "an extra key"  # not one of the three released answer keys
        d["annotations"][1]["answer_type"] = 7  # not a string: str() as before

    _edit(vqa_data / A, change)
    got = read_official(vqa_data / Q, vqa_data / A).annotations
    assert got is not None
    first, second = (json.loads((vqa_data / A).read_text())["annotations"][i]["question_id"] for i in (0, 1))
    assert got[first] == expected[first]
    assert got[second] == (expected[second][0], "7", expected[second][2])


@pytest.mark.parametrize(
    "records, message",
    [
        (
            [{"question_id": 1, "answer": "a"}, {"question_id": True, "answer": "b"}],
            r"record 1\.question_id has the wrong type bool",
        ),
        ([{"question_id": 1, "answer": "a"}, {"question_id": 1, "answer": "b"}], r"record 1: duplicate question_id 1"),
        ([{"question_id": 1}], r"record 0 lacks key\(s\) 'answer'"),
        ([{"question_id": 1, "answer": 2}], r"record 0\.answer has the wrong type int"),
        ([{"question_id": 1, "answer": "a\ud800"}], r"record 0\.answer holds invalid Unicode"),
        ([["question_id", 1]], r"record 0 should be a JSON object, got list"),
        ({"question_id": 1, "answer": "a"}, r"top level should be a JSON list, got dict"),
    ],
)
def test_results_file_errors_match_the_record_checks(tmp_path: Path, records, message: str) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(records))
    with pytest.raises(BadInputError, match=message):
        read_answers(path)
    with pytest.raises(BadInputError, match=message):
        read_keyed_results(path, "question_id", "answer")


def test_results_file_read_like_the_record_checks(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps([{"question_id": 7, "answer": " two\n"}, {"question_id": 3, "answer": "", "x": 1}]))
    assert read_answers(path) == read_keyed_results(path, "question_id", "answer") == {7: " two\n", 3: ""}
    path.write_text("[]")
    assert read_answers(path) == {}
