"""The vqav2 task without a model: prompt snapshots per family, parsing, exports, scoring keys."""

from pathlib import Path

import pytest

from blip2_bench.config import validate_section
from blip2_bench.errors import BadInputError
from blip2_bench.plugins import load_task_class
from blip2_bench.types import GenerationSettings, ModelTraits


def _task(data_root: Path, **options):
    cls = load_task_class("vqav2")
    return cls(validate_section(cls.Options, options, "task.vqav2"), data_root)


@pytest.mark.parametrize(
    "family, expected",
    [
        ("opt", "Question: what sport is being played tennis, golf? Answer:"),
        ("t5", "Question: what sport is being played tennis, golf? Short answer:"),
    ],
)
def test_prompt_snapshot_per_family(vqa_data: Path, family, expected):
    task = _task(vqa_data)
    samples = task.load(None)
    sample = next(s for s in samples if s.question.startswith("What sport"))
    request = task.requests([sample], ModelTraits(family, 224))[0]
    assert sample.question == "What sport is being played (tennis, golf...)?"
    assert request.prompt == expected
    assert request.settings == GenerationSettings(5, 10, 1, -1.0, 1.0)
    assert request.sample_id == str(sample.question_id)


def test_parse_keeps_first_line_stripped(tmp_path: Path):
    task = _task(tmp_path)
    assert task.parse("  two dogs \nQuestion: x") == "two dogs"
    assert task.parse("") == ""


def test_data_files_resolve_lavis_layout_and_report_missing(vqa_data: Path, tmp_path: Path):
    lavis = tmp_path / "lavis"
    (lavis / "coco" / "annotations").mkdir(parents=True)
    for f in vqa_data.glob("*.json"):
        f.rename(lavis / "coco" / "annotations" / f.name)
    (lavis / "coco" / "images").mkdir()
    (vqa_data / "val2014").rename(lavis / "coco" / "images" / "val2014")
    task = _task(lavis)
    files = task.data_files()
    assert task._image_dir() == lavis / "coco" / "images" / "val2014"
    assert files["questions"].parent == lavis / "coco" / "annotations"
    with pytest.raises(BadInputError, match=r"VQAv2 questions file not found: .*task.vqav2.questions_file"):
        _task(tmp_path / "nothing").data_files()


def test_scores_and_exports_use_official_keys(vqa_data: Path):
    task = _task(vqa_data)
    samples = task.load(None)
    predictions = {s.sample_id: "yes" for s in samples}
    scored = task.score(samples, predictions)
    assert set(scored.scores) == {"accuracy", "per_answer_type", "per_question_type", "per_question"}
    assert set(scored.scores["per_question"]) == {s.sample_id for s in samples}
    assert [r["id"] for r in scored.records] == [s.sample_id for s in samples]
    assert scored.metric_impl == "vqa_accuracy:official"
    ((name, results),) = task.exports(samples, predictions).items()
    assert name == "vqav2_val2014_results.json"
    assert results[0] == {"question_id": samples[0].question_id, "answer": "yes"}


def test_bad_options_fail():
    cls = load_task_class("vqav2")
    with pytest.raises(BadInputError, match="must contain '{}' once"):
        validate_section(cls.Options, {"prompt": "Q: A:"}, "task.vqav2")
    with pytest.raises(BadInputError, match="split must be one of"):
        validate_section(cls.Options, {"split": "test"}, "task.vqav2")
