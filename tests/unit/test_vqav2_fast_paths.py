"""The fast one-pass readers of VQAv2 files accept and refuse exactly what the record-by-record
checks do, with the same one-line errors (file and record named)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from blip2_bench import bulk
from blip2_bench.bulk import decode_typed
from blip2_bench.data import vqav2_official
from blip2_bench.data.json_files import read_json, read_keyed_results
from blip2_bench.data.vqav2_official import _annotations_checked, _questions_checked, read_official
from blip2_bench.errors import BadInputError
from blip2_bench.scoring import vqav2 as vqav2_scoring
from blip2_bench.scoring.vqav2 import read_answers

Q = "v2_OpenEnded_mscoco_val2014_questions.json"
A = "v2_mscoco_val2014_annotations.json"


def _json_load_only(monkeypatch) -> None:
    """Turn the typed decoding off: every file is read by json.load and the record checks."""
    for module in (vqav2_official, vqav2_scoring):
        monkeypatch.setattr(module, "decode_typed", lambda path, schema: None)


@pytest.fixture(params=["typed decoding", "json.load only"])
def readers(request, monkeypatch) -> str:
    """Every reader test runs twice: as shipped (typed decoding, json.load when it refuses),
    then with json.load and the record checks alone, which must accept, refuse and return
    exactly the same."""
    if request.param == "json.load only":
        _json_load_only(monkeypatch)
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
        (Q, lambda d: d.update(data_subtype=["val2014"]), r"unknown data_subtype \['val2014'\] \(known: val2014"),
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
    assert decode_typed(path, list[vqav2_scoring._Prediction]) is not None  # read on the typed path
    path.write_text("[]")
    assert read_answers(path) == {}


def _outcome(read) -> tuple[str, object]:
    try:
        return "read", read()
    except BadInputError as exc:
        return "error", str(exc)


def _top_field(raw: bytes, value: bytes) -> bytes:
    """The document with a first top-level field "x": value (a field no reader uses)."""
    return raw.replace(b"{", b'{"x": ' + value + b", ", 1)


def _second_annotations(raw: bytes) -> bytes:
    """A repeated top-level key: json.load keeps the last, here the array with one answer changed."""
    doc = json.loads(raw)
    doc["annotations"][0]["answers"][0]["answer"] = "the last key wins"
    return raw[: raw.rindex(b"}")] + b', "annotations": ' + json.dumps(doc["annotations"]).encode() + b"}"


# Documents where a typed decoder and json.load could part ways: each must come out the same
# (the same values, or the same one-line error) whether or not the typed decoding runs.
_BYTE_EDITS = {
    "NaN in an unused field": lambda raw: _top_field(raw, b"NaN"),
    "-Infinity in an unused field": lambda raw: _top_field(raw, b"-Infinity"),
    "1E400 in an unused field": lambda raw: _top_field(raw, b"1E400"),
    "a lone surrogate escape in an unused field": lambda raw: _top_field(raw, b'"\\ud800"'),
    "invalid UTF-8 in an unused field": lambda raw: _top_field(raw, b'"\xff"'),
    "surrogate bytes in an unused field": lambda raw: _top_field(raw, b'"\xed\xa0\x80"'),
    "surrogate bytes in a used string": lambda raw: raw.replace(b'": "', b'": "\xed\xa0\x80', 40),
    "a raw control character in a string": lambda raw: raw.replace(b'": "', b'": "\x01', 1),
    "nesting too deep for json": lambda raw: _top_field(raw, b"[" * 100_000 + b"]" * 100_000),
    "a byte-order mark": lambda raw: b"\xef\xbb\xbf" + raw,
    "UTF-16": lambda raw: raw.decode("utf-8").encode("utf-16"),
    "trailing garbage": lambda raw: raw + b" x",
    "truncated": lambda raw: raw[:-1],
    "an id written 1.0": lambda raw: re.sub(rb'("question_id": )(\d+)', rb"\1\2.0", raw, count=1),
    "an id written 1e3": lambda raw: re.sub(rb'("question_id": )(\d+)', rb"\g<1>1e3", raw, count=1),
    "an id written -0": lambda raw: raw.replace(b'"question_id": ', b'"question_id": -0, "y": ', 1),
    "a repeated key in a record": lambda raw: raw.replace(b'"answer": ', b'"answer": "first", "answer": ', 3).replace(
        b'"question": ', b'"question": "first", "question": ', 3
    ),
}


@pytest.mark.parametrize("target", [Q, A])
@pytest.mark.parametrize("edit", _BYTE_EDITS.values(), ids=_BYTE_EDITS.keys())
def test_typed_decoding_reads_what_json_load_reads(vqa_data: Path, monkeypatch, target: str, edit) -> None:
    path = vqa_data / target
    path.write_bytes(edit(path.read_bytes()))
    typed = _outcome(lambda: read_official(vqa_data / Q, vqa_data / A))
    _json_load_only(monkeypatch)
    assert typed == _outcome(lambda: read_official(vqa_data / Q, vqa_data / A))
    if typed[0] == "error":
        assert str(path) in str(typed[1]) and "\n" not in str(typed[1])


def test_a_repeated_top_level_key_keeps_the_last_as_json_load_does(vqa_data: Path) -> None:
    path = vqa_data / A
    path.write_bytes(_second_annotations(path.read_bytes()))
    assert vqav2_official._annotations_fast(path) is not None  # read by the typed decoding itself
    data = read_official(vqa_data / Q, path)
    assert data.annotations is not None
    assert "the last key wins" in next(iter(data.annotations.values()))[0]


def test_typed_decoding_reads_the_released_layout(vqa_data: Path) -> None:
    # Not only a fallback: the fixture files (the official layout) decode without json.load.
    assert vqav2_official._questions_fast(vqa_data / Q, None) is not None
    assert vqav2_official._annotations_fast(vqa_data / A) is not None


def test_invalid_utf8_in_a_field_nobody_reads_is_not_accepted(vqa_data: Path) -> None:
    path = vqa_data / A
    path.write_bytes(_top_field(path.read_bytes(), b'"\xc3("'))  # msgspec skips this field unread
    assert decode_typed(path, vqav2_official._AnnotationsFile) is None
    with pytest.raises(BadInputError, match="cannot read"):
        read_official(vqa_data / Q, path)


@pytest.mark.parametrize("edit", _BYTE_EDITS.values(), ids=_BYTE_EDITS.keys())
def test_results_file_typed_decoding_reads_what_json_load_reads(tmp_path: Path, monkeypatch, edit) -> None:
    path = tmp_path / "results.json"
    records = [{"question_id": 7, "answer": "two"}, {"question_id": 3, "answer": "ünï"}]
    path.write_bytes(edit(json.dumps(records).encode()))  # "unused field": one in the first record
    typed = _outcome(lambda: read_answers(path))
    _json_load_only(monkeypatch)
    assert typed == _outcome(lambda: read_answers(path))


def test_an_integer_too_long_for_python_is_one_line_and_read_where_unused(vqa_data: Path, monkeypatch) -> None:
    # json.load refuses more than 4300 digits (Python's integer-string limit); the typed
    # decoding never converts a field it skips, so there the file is read: the one divergence.
    huge = b"1" * 5000
    path = vqa_data / A
    original, expected = path.read_bytes(), read_official(vqa_data / Q, path).annotations
    path.write_bytes(_top_field(original, huge))
    assert read_official(vqa_data / Q, path).annotations == expected
    _json_load_only(monkeypatch)
    with pytest.raises(BadInputError, match="cannot read: Exceeds the limit") as info:
        read_official(vqa_data / Q, path)
    assert str(info.value).startswith("VQAv2 annotations file") and "\n" not in str(info.value)
    monkeypatch.undo()
    path.write_bytes(re.sub(rb'("question_id": )(\d+)', rb"\g<1>" + huge, original, count=1))  # a used field
    with pytest.raises(BadInputError, match="cannot read: Exceeds the limit"):
        read_official(vqa_data / Q, path)


@pytest.mark.parametrize("chunk", [1, 2, 3, 1 << 20])
def test_utf8_check_holds_across_chunk_boundaries(tmp_path: Path, chunk: int) -> None:
    good = '{"a": "caf\u00e9 \u20ac \U0001f600", "b": "x"}'.encode()
    path = tmp_path / "f.json"
    for raw, valid in ((good, True), (good[:9] + b"\xff" + good[10:], False), (good[:-2] + b"\xe2\x82", False)):
        assert bulk._strict_utf8(raw, chunk) is valid
        path.write_bytes(raw)
        assert (decode_typed(path, dict[str, str]) is not None) is valid


def test_typed_decoding_of_an_empty_file_or_a_folder_leaves_it_to_json_load(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    assert decode_typed(empty, list[vqav2_scoring._Prediction]) is None
    assert decode_typed(tmp_path, list[vqav2_scoring._Prediction]) is None
    with pytest.raises(BadInputError, match="empty.json"):
        vqav2_scoring.read_answers(empty)
