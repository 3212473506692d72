"""OK-VQA v1.1 loader and task on files shaped like the real ones: quirks, layout, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from blip2_bench.config import validate_section
from blip2_bench.data.okvqa import load_okvqa
from blip2_bench.demo.okvqa_gqa_fixtures import OkvqaFixture, TinyLemmaPipeline, write_okvqa_fixture
from blip2_bench.demo.vqav2_fixture import write_vqav2_fixture
from blip2_bench.errors import BadInputError
from blip2_bench.plugins import load_task_class
from blip2_bench.types import GenerationSettings, ModelTraits

Q = "OpenEnded_mscoco_val2014_questions.json"
A = "mscoco_val2014_annotations.json"


@pytest.fixture(scope="module")
def okvqa_master(tmp_path_factory: pytest.TempPathFactory) -> OkvqaFixture:
    return write_okvqa_fixture(tmp_path_factory.mktemp("okvqa"), n_images=4, questions_per_image=3)


@pytest.fixture
def okvqa_data(okvqa_master: OkvqaFixture, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(okvqa_master.root, root)
    return root


def _load(root: Path, limit=None):
    return load_okvqa(root / Q, root / A, root / "val2014", limit)


def _edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _task(data_root: Path, **options):
    cls = load_task_class("okvqa")
    return cls(validate_section(cls.Options, options, "task.okvqa"), data_root)


def test_loads_the_real_layout_and_its_quirks(okvqa_data: Path):
    data = _load(okvqa_data)
    questions = json.loads((okvqa_data / Q).read_text())["questions"]
    annotations = {a["question_id"]: a for a in json.loads((okvqa_data / A).read_text())["annotations"]}
    assert data.subtype == "val2014" and [s.question_id for s in data.samples] == [q["question_id"] for q in questions]
    s = data.samples[0]
    ann = annotations[s.question_id]
    # The scored answers are the stemmed `answer` fields; the raw ones are kept apart.
    assert s.answers == tuple(a["answer"] for a in ann["answers"])
    assert data.raw_answers[s.question_id] == tuple(a["raw_answer"] for a in ann["answers"])
    assert s.answers[:4] == ("race", "race", "race", "race") and data.raw_answers[s.question_id][2] == "race"
    assert len(s.answers) == 10 and s.answers[0::2] == s.answers[1::2]  # five answers, each twice
    assert s.answer_type == "other" and s.question_type == "four"
    assert s.image.path == str(okvqa_data / "val2014" / f"COCO_val2014_{s.image_id:012d}.jpg")
    assert s.sample_id == str(s.question_id) and len(_load(okvqa_data, limit=2).samples) == 2


@pytest.mark.parametrize(
    "target, change, message",
    [
        (Q, lambda d: d.pop("questions"), r"top level lacks key\(s\) 'questions'"),
        (Q, lambda d: d["questions"][1].pop("image_id"), r"questions\[1\] lacks key\(s\) 'image_id'"),
        (Q, lambda d: d["questions"][2].update(question_id="12"), r"questions\[2\]\.question_id has the wrong type"),
        (Q, lambda d: d["questions"].append(dict(d["questions"][0])), r"questions\[12\]: duplicate question_id"),
        (Q, lambda d: d.update(questions=[]), r"'questions' is empty"),
        (Q, lambda d: d.update(data_subtype="test-dev2015"), r"not an OK-VQA questions file: data_subtype"),
        (
            Q,
            lambda d: d["questions"][0].update(image_id=1),
            r"is on image \d+, but .*questions\[0\] puts it on image 1",
        ),
        (A, lambda d: d["annotations"].pop(0), r"no annotation for question_id \d+ .*questions\[0\]"),
        (A, lambda d: d["annotations"][3].pop("answers"), r"annotations\[3\] lacks key\(s\) 'answers'"),
        (A, lambda d: d["annotations"][0]["answers"][4].update(answer=5), r"answers\[4\]\.answer has the wrong type"),
        (A, lambda d: d["annotations"][1].update(answers=[]), r"annotations\[1\]: no human answers"),
        (A, lambda d: d["annotations"].append(dict(d["annotations"][0])), r"annotations\[12\]: duplicate question_id"),
        (A, lambda d: d.update(data_subtype="train2014"), r"data_subtype 'train2014', but .* is 'val2014'"),
        (
            A,
            lambda d: d["annotations"].append({**d["annotations"][0], "question_id": 7}),
            r"1 annotation\(s\) for questions not in .*question_id 7.*do not belong together",
        ),
    ],
)
def test_schema_errors_name_file_and_record(okvqa_data: Path, target, change, message):
    _edit(okvqa_data / target, change)
    with pytest.raises(BadInputError, match=message) as info:
        _load(okvqa_data)
    assert "\n" not in str(info.value)


def test_files_of_another_dataset_are_refused(okvqa_data: Path, tmp_path: Path):
    vqa = write_vqav2_fixture(tmp_path / "vqa", n_images=2, questions_per_image=2)
    assert vqa.annotations_file is not None
    with pytest.raises(BadInputError, match=r"not an OK-VQA questions file \(info.description: 'This is v2.0"):
        load_okvqa(vqa.questions_file, okvqa_data / A, tmp_path)
    with pytest.raises(BadInputError, match=r"v2_mscoco_val2014_annotations.json: not an OK-VQA annotations file"):
        load_okvqa(okvqa_data / Q, vqa.annotations_file, tmp_path)
    # Without an info block (VQA v1's files even share OK-VQA's names), the record says it.
    _edit(vqa.annotations_file, lambda d: d.pop("info"))
    with pytest.raises(BadInputError, match=r"annotations\[0\]: not an OK-VQA annotations file: question_type"):
        load_okvqa(okvqa_data / Q, vqa.annotations_file, tmp_path)
    # A VQA-style annotation whose question_type happens to be a category still lacks raw answers.
    _edit(okvqa_data / A, lambda d: [a.pop("raw_answer") for a in d["annotations"][2]["answers"]])
    with pytest.raises(BadInputError, match=r"annotations\[2\]\.answers\[0\] lacks 'raw_answer': not an OK-VQA v1.1"):
        _load(okvqa_data)


def test_task_finds_the_files_as_users_lay_them_out(okvqa_data: Path, tmp_path: Path):
    assert _task(okvqa_data).data_files()["questions"] == okvqa_data / Q
    lavis = tmp_path / "lavis"  # LAVIS: okvqa/annotations/ and coco/images/val2014/
    (lavis / "okvqa" / "annotations").mkdir(parents=True)
    for name in (Q, A):
        (okvqa_data / name).rename(lavis / "okvqa" / "annotations" / name)
    (lavis / "coco" / "images").mkdir(parents=True)
    (okvqa_data / "val2014").rename(lavis / "coco" / "images" / "val2014")
    task = _task(lavis)
    assert task.data_files()["annotations"] == lavis / "okvqa" / "annotations" / A
    assert task._image_dir() == lavis / "coco" / "images" / "val2014"
    with pytest.raises(BadInputError, match=r"OK-VQA questions file not found: .*task.okvqa.questions_file"):
        _task(tmp_path / "nothing").data_files()
    (lavis / "coco" / "images" / "val2014").rename(lavis / "elsewhere")
    with pytest.raises(BadInputError, match=r"OK-VQA image folder not found: .*task.okvqa.image_dir"):
        _task(lavis).data_files()


@pytest.mark.parametrize(
    "family, expected",
    [
        ("opt", "Question: what sport can you use this for? Answer:"),
        ("t5", "Question: what sport can you use this for? Short answer:"),
    ],
)
def test_prompt_snapshot_per_family(okvqa_data: Path, family, expected):
    task = _task(okvqa_data)
    request = task.requests(task.load(None)[:1], ModelTraits(family, 224))[0]
    assert request.prompt == expected
    assert request.settings == GenerationSettings(5, 10, 1, -1.0, 1.0)


def test_missing_spacy_is_said_up_front_and_recorded(okvqa_data: Path, caplog, monkeypatch):
    from blip2_bench.metrics import lemmatize

    def missing():
        raise lemmatize.LemmatizerUnavailable("spaCy is not installed (pip install spacy ...)")

    monkeypatch.setattr(lemmatize, "load_spacy", missing)
    task = _task(okvqa_data)
    with caplog.at_level("WARNING"):
        task.data_files()
    assert "okvqa: not applied: spaCy is not installed" in caplog.text and "not comparable" in caplog.text
    assert task.describe()["lemmatizer"] == "none"
    samples = task.load(None)
    scores = task.score(samples, {s.sample_id: "race" for s in samples})
    assert scores.metric_impl == "vqa_accuracy:lavis+lemmatizer:none" and "not comparable" in scores.scores["note"]
    with pytest.raises(BadInputError, match=r"task.okvqa.lemmatizer=spacy, but spaCy is not installed"):
        _task(okvqa_data, lemmatizer="spacy").data_files()
    off = _task(okvqa_data, lemmatizer="off")
    assert off.describe()["lemmatizer"] == "none" and "off" in off.describe()["lemmatizer_detail"]


def test_scores_exports_and_records(okvqa_data: Path, monkeypatch):
    from blip2_bench.metrics import lemmatize

    monkeypatch.setattr(lemmatize, "load_spacy", _fake_spacy)
    task = _task(okvqa_data)
    assert task.describe()["lemmatizer"] == "spacy:en_core_web_sm"
    samples = task.load(None)
    predictions = {s.sample_id: "racing" for s in samples}
    scores = task.score(samples, predictions)
    first = scores.records[0]
    assert first["scored_answer"] == "race" and first["score"] == 100.0 and first["category"] == "SR"
    assert scores.table["acc[SR]"] == 100.0 and "note" not in scores.scores
    assert scores.metric_impl == "vqa_accuracy:lavis+lemmatizer:spacy:en_core_web_sm"
    ((name, results),) = task.exports(samples, predictions).items()
    assert name == "okvqa_val2014_results.json"
    assert results[0] == {"question_id": samples[0].question_id, "answer": "racing"}  # before lemmatization


def _fake_spacy():
    return TinyLemmaPipeline()


def test_bad_options_fail():
    cls = load_task_class("okvqa")
    for key, value, message in [
        ("lemmatizer", "nltk", r"task.okvqa.lemmatizer must be one of \['auto', 'spacy', 'off'\]"),
        ("scorer", "vqa", r"task.okvqa.scorer must be one of"),
        ("split", "test", r"task.okvqa.split must be one of \['val'\]"),
        ("prompt", "Question:", r"must contain '\{\}' once"),
    ]:
        with pytest.raises(BadInputError, match=message):
            validate_section(cls.Options, {key: value}, "task.okvqa")
