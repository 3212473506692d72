"""json_parts parses a long array in several processes with json.loads's result, and gives
None (parse it the ordinary way) whenever a cut, the head or the tail is not what it seems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blip2_bench import json_parts
from blip2_bench.data import vqav2_official
from blip2_bench.data.vqav2_official import _annotations_part, _CompactingDecoder, read_official
from blip2_bench.errors import BadInputError

A = "v2_mscoco_val2014_annotations.json"
Q = "v2_OpenEnded_mscoco_val2014_questions.json"


def _parts(path: Path, workers: int = 3):
    return json_parts.parse_array_in_parts(path, "annotations", _CompactingDecoder, _annotations_part, workers, 0)


def _sequential(path: Path) -> dict:
    return vqav2_official._annotations_fast(path, 1)


def test_parts_together_are_the_whole_file(vqa_data: Path) -> None:
    doc = json.loads((vqa_data / A).read_text())
    doc["after"] = {"nested": ["]", "}"]}  # a field after the array, with brackets in strings
    (vqa_data / A).write_text(json.dumps(doc, indent=1))  # whitespace and newlines everywhere
    found = _parts(vqa_data / A)
    assert found is not None
    fields, parts = found
    assert len(parts) == 3 and all(parts)
    assert fields == {k: v for k, v in doc.items() if k != "annotations"}
    merged = {qid: ann for part in parts for qid, ann in part.items()}
    assert list(merged.items()) == list(_sequential(vqa_data / A).items())  # same records, same order


def test_a_cut_inside_an_element_is_caught(vqa_data: Path, monkeypatch) -> None:
    raw = (vqa_data / A).read_bytes()
    inside = raw.index(b'"answers"', raw.index(b'"annotations"') + 2000)  # within some annotation
    monkeypatch.setattr(json_parts, "_guess_cuts", lambda raw, start, key, n: [start, inside])
    assert _parts(vqa_data / A) is None


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t[: t.rindex("}")] + ', "annotations": []}',  # a second key: json.loads keeps the last
        lambda t: t + " x",  # trailing garbage
        lambda t: t[:-1],  # truncated
        lambda t: t.replace('"annotations": [', '"annotations": [[1], ', 1),  # an element json parses, not ours
    ],
)
def test_a_doubtful_document_is_left_to_the_ordinary_reader(vqa_data: Path, edit, monkeypatch) -> None:
    path = vqa_data / A
    path.write_text(edit(path.read_text()))
    found = _parts(path)
    assert found is None or not all(found[1])

    def outcome(workers: int) -> tuple[str, object]:
        monkeypatch.setattr(vqav2_official, "default_workers", lambda: workers)
        try:
            return "read", read_official(vqa_data / Q, path).annotations
        except BadInputError as exc:
            return "error", str(exc)

    monkeypatch.setattr(json_parts, "MIN_PARALLEL_BYTES", 0)
    assert outcome(3) == outcome(1)


def test_duplicate_question_ids_in_two_parts_are_refused_with_the_record(vqa_data: Path, monkeypatch) -> None:
    doc = json.loads((vqa_data / A).read_text())
    doc["annotations"][-1]["question_id"] = doc["annotations"][0]["question_id"]
    (vqa_data / A).write_text(json.dumps(doc))
    monkeypatch.setattr(json_parts, "MIN_PARALLEL_BYTES", 0)
    monkeypatch.setattr(vqav2_official, "default_workers", lambda: 3)
    n = len(doc["annotations"]) - 1
    with pytest.raises(BadInputError, match=rf"annotations\[{n}\]: duplicate question_id"):
        read_official(vqa_data / Q, vqa_data / A)


def test_small_files_and_one_worker_stay_in_process(vqa_data: Path) -> None:
    assert (
        json_parts.parse_array_in_parts(vqa_data / A, "annotations", _CompactingDecoder, _annotations_part, 3) is None
    )
    assert _parts(vqa_data / A, workers=1) is None
