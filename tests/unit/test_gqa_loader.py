"""GQA loader and task on files shaped like the official balanced question files; bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from blip2_bench.config import validate_section
from blip2_bench.data.gqa import load_gqa
from blip2_bench.demo.okvqa_gqa_fixtures import GqaFixture, write_gqa_fixture
from blip2_bench.demo.vqav2_fixture import write_vqav2_fixture
from blip2_bench.errors import BadInputError
from blip2_bench.plugins import load_task_class
from blip2_bench.types import GenerationSettings, ModelTraits

Q = "testdev_balanced_questions.json"


@pytest.fixture(scope="module")
def gqa_master(tmp_path_factory: pytest.TempPathFactory) -> GqaFixture:
    return write_gqa_fixture(tmp_path_factory.mktemp("gqa"), n_images=4, questions_per_image=3)


@pytest.fixture
def gqa_data(gqa_master: GqaFixture, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(gqa_master.root, root)
    return root


def _edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _task(data_root: Path, **options):
    cls = load_task_class("gqa")
    return cls(validate_section(cls.Options, options, "task.gqa"), data_root)


def test_loads_ids_as_strings_types_and_steps(gqa_data: Path):
    doc = json.loads((gqa_data / Q).read_text())
    data = load_gqa(gqa_data / Q, gqa_data / "images")
    assert [s.question_id for s in data.samples] == list(doc) and data.unbalanced == ()
    first = data.samples[0]
    assert first.question_id == "0201307251" and first.sample_id == "0201307251"  # the leading zero stays
    assert first.image.path == str(gqa_data / "images" / f"{first.image_id}.jpg") and first.image_id.startswith("n")
    assert (first.structural, first.semantic, first.detailed) == ("verify", "attr", "verifyAttr")
    by_question = {s.question: s for s in data.samples}
    # The official getStepsNum: operations whose "op: arg" holds "exist", "query: name" or
    # "choose name" are no reasoning step.
    assert by_question["What is the man wearing?"].steps == 2  # select, relate (query: name left out)
    assert by_question["Are there both cars and trucks in the picture?"].steps == 3  # select, select, and
    assert by_question["Is there a dog?"].steps == 1
    assert by_question["Is the sky blue?"].words == 4  # len(question.split())
    assert len(load_gqa(gqa_data / Q, gqa_data / "images", limit=5).samples) == 5


def test_unbalanced_questions_are_skipped_as_the_official_accuracy_does(gqa_data: Path):
    _edit(gqa_data / Q, lambda d: d["20968142"].update(isBalanced=False))
    data = load_gqa(gqa_data / Q, gqa_data / "images")
    assert data.unbalanced == ("20968142",) and "20968142" not in [s.question_id for s in data.samples]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["20968142"].pop("imageId"), r"question '20968142' lacks key\(s\) 'imageId'"),
        (lambda d: d["20968142"].pop("answer"), r"question '20968142' has no 'answer' \(GQA's test, challenge"),
        (lambda d: d["20968142"]["types"].pop("structural"), r"question '20968142'.types lacks key\(s\) 'structural'"),
        (lambda d: d["20968142"].update(isBalanced="yes"), r"'20968142'.isBalanced should be true or false"),
        (lambda d: d["20968142"].update(answer=2), r"question '20968142'.answer has the wrong type"),
        (lambda d: d["20968142"].update(imageId=713), r"question '20968142'.imageId has the wrong type"),
        (lambda d: d["20968142"]["semantic"][0].pop("argument"), r"'20968142'.semantic\[0\] lacks key\(s\) 'argument'"),
        (lambda d: d["20968142"].update(semantic="select"), r"question '20968142'.semantic should be a JSON list"),
        (lambda d: [q.update(isBalanced=False) for q in d.values()], r"no balanced questions"),
    ],
)
def test_schema_errors_name_file_and_record(gqa_data: Path, change, message):
    _edit(gqa_data / Q, change)
    with pytest.raises(BadInputError, match=message) as info:
        load_gqa(gqa_data / Q, gqa_data / "images")
    assert str(gqa_data / Q) in str(info.value) and "\n" not in str(info.value)


def test_files_of_another_form_or_dataset_are_refused(gqa_data: Path, tmp_path: Path):
    lavis = tmp_path / "lavis.json"  # LAVIS's converted testdev_balanced_questions.json
    lavis.write_text(json.dumps([{"image": "n1.jpg", "question": "Is it?", "question_id": 1, "answer": "yes"}]))
    with pytest.raises(BadInputError, match=r"LAVIS's converted GQA file, not the official one"):
        load_gqa(lavis, tmp_path)
    vqa = write_vqav2_fixture(tmp_path / "vqa", n_images=1, questions_per_image=1)
    with pytest.raises(BadInputError, match=r"a VQA-style file"):
        load_gqa(vqa.questions_file, tmp_path)
    scenes = tmp_path / "val_sceneGraphs.json"
    scenes.write_text(json.dumps({"2370799": {"width": 500, "height": 333, "objects": {}}}))
    with pytest.raises(BadInputError, match=r"a GQA scene-graph file"):
        load_gqa(scenes, tmp_path)
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    with pytest.raises(BadInputError, match=r"no questions"):
        load_gqa(empty, tmp_path)
    with pytest.raises(BadInputError, match=r"GQA questions file not found"):
        load_gqa(tmp_path / "missing.json", tmp_path)


def test_task_finds_the_files_as_users_lay_them_out(gqa_data: Path, tmp_path: Path):
    assert _task(gqa_data).data_files() == {"questions": gqa_data / Q}
    lavis = tmp_path / "lavis"  # questions1.2/ and gqa/images/
    (lavis / "gqa" / "questions1.2").mkdir(parents=True)
    (gqa_data / Q).rename(lavis / "gqa" / "questions1.2" / Q)
    (gqa_data / "images").rename(lavis / "gqa" / "images")
    task = _task(lavis)
    assert task.data_files()["questions"] == lavis / "gqa" / "questions1.2" / Q
    assert task._image_dir() == lavis / "gqa" / "images"
    with pytest.raises(BadInputError, match=r"GQA questions file not found: .*task.gqa.questions_file"):
        _task(tmp_path / "nothing").data_files()
    with pytest.raises(BadInputError, match=r"GQA questions file not found: .*val_balanced_questions.json"):
        _task(lavis, split="val").data_files()
    (lavis / "gqa" / "images").rename(lavis / "pictures")
    with pytest.raises(BadInputError, match=r"GQA image folder not found: .*task.gqa.image_dir"):
        _task(lavis).data_files()


@pytest.mark.parametrize(
    "family, expected",
    [("opt", "Question: is the sky blue? Answer:"), ("t5", "Question: is the sky blue? Short answer:")],
)
def test_prompt_snapshot_per_family(gqa_data: Path, family, expected):
    task = _task(gqa_data)
    request = task.requests(task.load(None)[:1], ModelTraits(family, 224))[0]
    assert request.prompt == expected and request.sample_id == "0201307251"
    assert request.settings == GenerationSettings(5, 10, 1, -1.0, 1.0)


def test_scores_records_and_the_official_predictions_export(gqa_master: GqaFixture, gqa_data: Path):
    task = _task(gqa_data)
    samples = task.load(None)
    predictions = {s.sample_id: gqa_master.answers[s.sample_id] for s in samples}
    predictions["0201307251"] = "Yes."  # LAVIS's normalization makes it "yes"
    scores = task.score(samples, predictions)
    # The one answer normalization changes ("t-shirt" -> "t shirt") never matches its raw gold.
    wrong = [r["id"] for r in scores.records if r["score"] == 0.0]
    assert wrong == [s.sample_id for s in samples if s.answer == "t-shirt"]
    assert scores.table["accuracy"] == pytest.approx(100 * 11 / 12) and scores.metric_impl == "gqa_accuracy:lavis"
    assert list(scores.table) == [
        "accuracy",
        *("acc[binary]", "acc[open]"),
        *("acc[query]", "acc[verify]", "acc[logical]", "acc[choose]", "acc[compare]"),
        *("acc[rel]", "acc[attr]", "acc[obj]", "acc[cat]", "acc[global]"),
    ]
    assert scores.records[0]["scored_answer"] == "yes" and scores.records[0]["structural"] == "verify"
    ((name, results),) = task.exports(samples, predictions).items()
    assert name == "gqa_testdev_predictions.json"
    assert results[0] == {"questionId": "0201307251", "prediction": "Yes."}
    assert _task(gqa_data, scorer="official").score(samples, predictions).table["accuracy"] == pytest.approx(
        100 * 11 / 12  # "Yes." is wrong now, "t-shirt" right
    )


def test_bad_options_fail():
    cls = load_task_class("gqa")
    for key, value, message in [
        ("split", "testdev", r"task.gqa.split must be one of \['test-dev', 'val'\]"),
        ("scorer", "vqa", r"task.gqa.scorer must be one of \['lavis', 'lavis-2023-12', 'official'\]"),
        ("prompt", "{} {}", r"must contain '\{\}' once"),
    ]:
        with pytest.raises(BadInputError, match=message):
            validate_section(cls.Options, {key: value}, "task.gqa")
