"""Loaders for COCO Karpathy (both file forms) and NoCaps, the caption tasks' data handling; no Java."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from blip2_bench.config import validate_section
from blip2_bench.data.coco_captions import (
    lavis_image_id,
    load_karpathy_dataset,
    load_lavis_karpathy,
    read_coco_caption_file,
)
from blip2_bench.data.nocaps import domains_of, load_nocaps
from blip2_bench.demo.caption_fixture import CaptionFixture, write_caption_fixture
from blip2_bench.errors import BadInputError
from blip2_bench.metrics.spice import JavaNotFoundError
from blip2_bench.plugins import load_task_class
from blip2_bench.types import ModelTraits


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> CaptionFixture:
    return write_caption_fixture(tmp_path_factory.mktemp("captions"))


@pytest.fixture
def data(master: CaptionFixture, tmp_path: Path) -> CaptionFixture:
    """A private copy, free to corrupt."""
    root = tmp_path / "data"
    shutil.copytree(master.root, root)
    moved = {k: root / v.relative_to(master.root) for k, v in vars(master).items() if isinstance(v, Path)}
    return dataclasses.replace(master, **moved)


def _read(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _write(path: Path, doc) -> None:
    path.write_text(json.dumps(doc), encoding="utf-8")


# --- COCO Karpathy --------------------------------------------------------------------------
def test_both_karpathy_file_forms_give_the_same_samples(master):
    image_root = master.root / "coco" / "images"
    lavis = load_lavis_karpathy(master.coco_test, master.coco_gt, image_root)
    karpathy = load_karpathy_dataset(master.karpathy, "test", image_root)
    assert [s.image_id for s in lavis] == [s.image_id for s in karpathy] == list(master.coco_ids)
    assert [s.references for s in lavis] == [s.references for s in karpathy]
    assert [s.image for s in lavis] == [s.image for s in karpathy]
    assert all(Path(s.image.path).is_file() and s.image.key == f"coco:{s.image_id}" for s in lavis)
    # Raw captions are kept as written (PTB tokenization happens at scoring); never assume 5.
    assert {len(s.references) for s in lavis} == {5, 6, 7}
    assert any("\n" in c or c.endswith(" ") for s in lavis for c in s.references)
    assert " . " in lavis[1].references
    assert load_karpathy_dataset(master.karpathy, "test", image_root, limit=2) == karpathy[:2]
    assert load_lavis_karpathy(master.coco_test, master.coco_gt, image_root, limit=3) == lavis[:3]


def test_fixture_images_are_jpegs_in_several_modes(master):
    modes = {Image.open(p).mode for p in (master.root / "coco" / "images" / "val2014").iterdir()}
    assert {"RGB", "L", "CMYK"} <= modes


@pytest.mark.parametrize(
    "name, image_id",
    [
        ("val2014/COCO_val2014_000000391895.jpg", 391895),
        ("COCO_val2014_000000000042.jpg", 42),
        ("coco/images/val2014/COCO_val2014_000000581929.JPG", 581929),
    ],
)
def test_lavis_image_id_is_the_number_after_the_last_underscore(name, image_id):
    assert lavis_image_id(name) == image_id


def test_lavis_file_errors_name_the_record(data):
    entries = _read(data.coco_test)
    entries[2]["image"] = "val2014/COCO_val2014_abc.jpg"
    _write(data.coco_test, entries)
    with pytest.raises(BadInputError, match=r"record 2: no COCO id after the last '_'"):
        load_lavis_karpathy(data.coco_test, data.coco_gt, data.root)
    entries[2]["image"] = entries[0]["image"]
    _write(data.coco_test, entries)
    with pytest.raises(BadInputError, match=r"record 2: duplicate image id"):
        load_lavis_karpathy(data.coco_test, data.coco_gt, data.root)


def test_gt_file_must_hold_every_image(data):
    gt = _read(data.coco_gt)
    missing = data.coco_ids[3]
    gt["images"] = [i for i in gt["images"] if i["id"] != missing]
    _write(data.coco_gt, gt)
    with pytest.raises(BadInputError, match=f"no reference captions for image id {missing}"):
        load_lavis_karpathy(data.coco_test, data.coco_gt, data.root)


def test_wrong_file_forms_get_a_hint(master):
    with pytest.raises(BadInputError, match="LAVIS's coco_karpathy_test.json is a list"):
        read_coco_caption_file(master.coco_test, "annotation file")
    with pytest.raises(BadInputError, match="looks like Karpathy's dataset_coco.json"):
        read_coco_caption_file(master.karpathy, "annotation file")
    with pytest.raises(BadInputError, match="lacks key"):
        load_karpathy_dataset(master.coco_gt, "test", master.root)
    with pytest.raises(BadInputError, match="no images with split 'val'"):
        load_karpathy_dataset(master.karpathy, "val", master.root)


def test_coco_caption_file_checks(data):
    gt = _read(data.coco_gt)
    bare = gt["images"][0]["id"]
    _write(data.coco_gt, {**gt, "annotations": [a for a in gt["annotations"] if a["image_id"] != bare]})
    with pytest.raises(BadInputError, match=f"no reference caption \\(e.g. image id {bare}\\)"):
        read_coco_caption_file(data.coco_gt, "gt")
    _write(data.coco_gt, {**gt, "images": gt["images"] + gt["images"][:1]})
    with pytest.raises(BadInputError, match=f"duplicate image id {bare}"):
        read_coco_caption_file(data.coco_gt, "gt")
    _write(data.coco_gt, {**gt, "annotations": gt["annotations"] + [{"image_id": 1, "caption": 7}]})
    with pytest.raises(BadInputError, match=r"annotations\[\d+\]\.caption has the wrong type"):
        read_coco_caption_file(data.coco_gt, "gt")
    # Annotations of images not listed are left out, as pycocotools leaves them out of evaluation.
    _write(data.coco_gt, {**gt, "annotations": gt["annotations"] + [{"image_id": 1, "caption": "x"}]})
    assert list(read_coco_caption_file(data.coco_gt, "gt").refs) == list(data.coco_ids)


# --- NoCaps -----------------------------------------------------------------------------------
def test_nocaps_val_domains_come_from_the_file(master):
    samples = load_nocaps(master.nocaps_val, master.root / "nocaps" / "val", with_captions=True)
    doc = _read(master.nocaps_val)
    assert [s.image_id for s in samples] == [i["id"] for i in doc["images"]]
    assert [s.domain for s in samples] == [i["domain"] for i in doc["images"]]
    assert {s.domain for s in samples} == {"in-domain", "near-domain", "out-domain"}
    assert all(len(s.references) == 10 for s in samples)
    assert all(Path(s.image.path).is_file() and s.image.key == f"nocaps:{s.image_id}" for s in samples)


def test_nocaps_test_has_no_references(master):
    samples = load_nocaps(master.nocaps_test, master.root / "nocaps" / "test", with_captions=False, limit=2)
    assert len(samples) == 2 and all(s.references is None and s.domain is None for s in samples)
    with pytest.raises(BadInputError, match="no 'annotations'"):
        load_nocaps(master.nocaps_test, master.root, with_captions=True)


def test_nocaps_domain_errors(data):
    doc = _read(data.nocaps_val)
    doc["images"][2]["domain"] = "indomain"
    _write(data.nocaps_val, doc)
    with pytest.raises(BadInputError, match="unknown domain 'indomain'"):
        domains_of(read_coco_caption_file(data.nocaps_val, "nocaps"))
    del doc["images"][2]["domain"]
    _write(data.nocaps_val, doc)
    with pytest.raises(BadInputError, match="lacks 'domain'"):
        load_nocaps(data.nocaps_val, data.root, with_captions=True)


# --- the task plugins (no model, no Java needed) ------------------------------------------------
def _task(name: str, root: Path, **options):
    cls = load_task_class(name)
    return cls(validate_section(cls.Options, options, f"task.{name}"), root)


@pytest.mark.parametrize("family", ["opt", "t5"])
def test_coco_caption_requests_follow_the_protocol(master, family):
    task = _task("coco_caption", master.root)
    assert set(task.data_files()) == {"annotations", "gt"} and task.describe()["source"] == "lavis"
    samples = task.load(None)
    requests = task.requests(samples, ModelTraits(family, 364))
    assert [r.sample_id for r in requests] == [str(i) for i in master.coco_ids]
    assert {r.prompt for r in requests} == {"a photo of"}
    settings = requests[0].settings
    assert (settings.num_beams, settings.max_new_tokens, settings.min_new_tokens) == (5, 30, 8)
    assert (settings.repetition_penalty, settings.length_penalty) == (1.0, 1.0)
    assert task.parse(" a dog on a couch \nQuestion: x") == "a dog on a couch"
    described = task.describe()
    assert "generated tokens only" in described["min_new_tokens_reading"]
    assert "1.15" in described["penalties"] and described["generation"]["repetition_penalty"] == 1.0


def test_coco_caption_karpathy_source_and_exports(master):
    task = _task("coco_caption", master.root, source="karpathy")
    assert set(task.data_files()) == {"annotations"}
    samples = task.load(2)
    predictions = {samples[0].sample_id: "a dog"}
    assert task.exports(samples, predictions) == {
        "coco_karpathy_test_results.json": [{"image_id": samples[0].image_id, "caption": "a dog"}]
    }
    auto = _task("coco_caption", master.root, annotations_file=str(master.karpathy))
    assert auto.describe()["source"] == "karpathy"


def test_nocaps_task_files_exports_and_options(master):
    task = _task("nocaps", master.root, df="per-domain")
    assert task.data_files() == {"annotations": master.nocaps_val}
    assert task.describe()["df"] == "per-domain"
    test = _task("nocaps", master.root, split="test")
    samples = test.load(None)
    predictions = {s.sample_id: f"caption {s.image_id}" for s in samples}
    ((name, entries),) = test.exports(samples, predictions).items()
    assert name == "nocaps_test_results.json" and len(entries) == len(samples)
    assert entries[0] == {"image_id": samples[0].image_id, "caption": f"caption {samples[0].image_id}"}
    scored = test.score(samples, predictions)
    assert list(scored.scores) == ["note"] and "exports/nocaps_test_results.json" in scored.scores["note"]
    assert scored.table == {} and len(scored.records) == len(samples)


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("coco_caption", {"split": "train"}, "split must be 'test' or 'val'"),
        ("coco_caption", {"source": "hf"}, "source must be auto, lavis or karpathy"),
        ("coco_caption", {"spice": "yes"}, "spice must be one of"),
        ("coco_caption", {"min_new_tokens": 40}, "min_new_tokens <= max_new_tokens"),
        ("nocaps", {"df": "local"}, "df must be one of"),
        ("nocaps", {"split": "train"}, "split must be one of"),
    ],
)
def test_bad_options_fail_before_any_work(master, name, options, message):
    with pytest.raises(BadInputError, match=message):
        _task(name, master.root, **options)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(BadInputError, match="coco_karpathy_test.json"):
        _task("coco_caption", tmp_path).data_files()
    with pytest.raises(BadInputError, match="nocaps_val_4500_captions.json"):
        _task("nocaps", tmp_path).data_files()


def test_missing_java_fails_before_the_model_loads(master, monkeypatch):
    monkeypatch.setenv("PATH", str(master.root))
    with pytest.raises(JavaNotFoundError, match="Java not found"):
        _task("coco_caption", master.root).data_files()
    with pytest.raises(JavaNotFoundError):
        _task("nocaps", master.root).data_files()
    assert _task("nocaps", master.root, split="test").data_files()  # export only: no metrics, no Java
