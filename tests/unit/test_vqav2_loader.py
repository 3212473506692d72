"""VQAv2 official-format and datasets loaders: schema, layout and bad-input cases."""

import json
from pathlib import Path

import pytest

from blip2_bench.data.vqav2 import load_hf, load_official
from blip2_bench.demo.vqav2_fixture import write_vqav2_parquet
from blip2_bench.errors import BadInputError

Q = "v2_OpenEnded_mscoco_val2014_questions.json"
A = "v2_mscoco_val2014_annotations.json"


def _load(root: Path, limit=None):
    return load_official(root / Q, root / A, root / "val2014", limit)


def _edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def test_loads_questions_answers_and_image_paths(vqa_data: Path):
    samples = _load(vqa_data)
    questions = json.loads((vqa_data / Q).read_text())["questions"]
    assert [s.question_id for s in samples] == [q["question_id"] for q in questions]
    s = samples[0]
    assert s.sample_id == str(s.question_id) and len(s.answers) == 10
    assert s.image.path == str(vqa_data / "val2014" / f"COCO_val2014_{s.image_id:012d}.jpg")
    assert s.image.key == f"coco:{s.image_id}"
    assert len(_load(vqa_data, limit=2)) == 2


def test_test_dev_has_no_answers_and_uses_test2015_images(vqa_data: Path):
    _edit(vqa_data / Q, lambda d: d.update(data_subtype="test-dev2015"))
    samples = load_official(vqa_data / Q, None, vqa_data / "test2015")
    assert samples[0].answers is None and "COCO_test2015_" in samples[0].image.path


@pytest.mark.parametrize(
    "target, change, message",
    [
        (Q, lambda d: d.pop("questions"), r"top level lacks key\(s\) 'questions'"),
        (Q, lambda d: d["questions"][1].pop("image_id"), r"questions\[1\] lacks key\(s\) 'image_id'"),
        (Q, lambda d: d["questions"][2].update(question_id="12"), r"questions\[2\]\.question_id has the wrong type"),
        (Q, lambda d: d["questions"].append(dict(d["questions"][0])), r"duplicate question_id"),
        (Q, lambda d: d.update(questions=[]), r"'questions' is empty"),
        (Q, lambda d: d.update(data_subtype="val2099"), r"unknown data_subtype 'val2099'"),
        (A, lambda d: d["annotations"].pop(0), r"no annotation for question_id \d+ .*questions\[0\]"),
        (A, lambda d: d["annotations"][3].pop("answers"), r"annotations\[3\] lacks key\(s\) 'answers'"),
        (A, lambda d: d["annotations"][0]["answers"][4].update(answer=5), r"answers\[4\]\.answer has the wrong type"),
        (A, lambda d: d["annotations"].append(dict(d["annotations"][0])), r"annotations\[\d+\]: duplicate question_id"),
    ],
)
def test_schema_errors_name_file_and_record(vqa_data: Path, target, change, message):
    _edit(vqa_data / target, change)
    with pytest.raises(BadInputError, match=message) as info:
        _load(vqa_data)
    assert target in str(info.value)


def test_missing_and_malformed_files(vqa_data: Path):
    (vqa_data / A).write_text('{"annotations": [')
    with pytest.raises(BadInputError, match=rf"{A}: malformed JSON at line 1"):
        _load(vqa_data)
    (vqa_data / Q).unlink()
    with pytest.raises(BadInputError, match=rf"questions file not found: .*{Q}"):
        _load(vqa_data)


def test_datasets_parquet_source_matches_official_files(vqa_fixture_master, tmp_path: Path):
    parquet = write_vqav2_parquet(vqa_fixture_master, tmp_path / "vqav2.parquet")
    from_hf = load_hf(str(parquet), "validation")
    official = load_official(
        vqa_fixture_master.questions_file, vqa_fixture_master.annotations_file, vqa_fixture_master.image_dir
    )
    strip = [(s.question_id, s.image_id, s.question, s.answers, s.answer_type, s.question_type) for s in official]
    assert [
        (s.question_id, s.image_id, s.question, s.answers, s.answer_type, s.question_type) for s in from_hf
    ] == strip
    assert from_hf[0].image.data is not None and from_hf[0].image.data[:2] in (b"\xff\xd8", b"\x89P")
    assert len(load_hf(str(parquet), "validation", limit=3)) == 3


def test_unopenable_dataset_source_is_bad_input(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadInputError, match="no .parquet or .arrow files"):
        load_hf(str(empty), "validation")
