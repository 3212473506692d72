"""Retrieval loaders (LAVIS list and Karpathy forms), the retrieval fixture, and `blip2-bench score flickr30k`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from blip2_bench.data.retrieval import (
    RetrievalData,
    load_karpathy,
    load_lavis_list,
    load_retrieval_annotations,
)
from blip2_bench.demo.retrieval_fixture import (
    RetrievalFixture,
    write_coco_retrieval_fixture,
    write_flickr30k_fixture,
)
from blip2_bench.errors import BadInputError
from blip2_bench.metrics.retrieval import recall_metrics
from blip2_bench.scoring.cli import score_main


@pytest.fixture(scope="module")
def flickr(tmp_path_factory: pytest.TempPathFactory) -> RetrievalFixture:
    return write_flickr30k_fixture(tmp_path_factory.mktemp("flickr30k"), n_images=6)


@pytest.fixture(scope="module")
def coco(tmp_path_factory: pytest.TempPathFactory) -> RetrievalFixture:
    return write_coco_retrieval_fixture(tmp_path_factory.mktemp("coco"), n_images=5)


def _check_consistent(data: RetrievalData, fx: RetrievalFixture) -> None:
    assert data.image_ids == fx.image_ids
    assert data.texts == tuple(c for caps in fx.captions for c in caps)
    for i, texts in enumerate(data.img2txt):
        assert [data.texts[t] for t in texts] == list(fx.captions[i])
        assert all(data.txt2img[t] == i for t in texts)
    assert all(Path(img.path).is_file() for img in data.images)


def test_flickr_lavis_and_karpathy_forms_give_the_same_gallery(flickr: RetrievalFixture) -> None:
    lavis = load_lavis_list(flickr.lavis_file, flickr.image_root, "flickr30k")
    karpathy = load_karpathy(flickr.karpathy_file, flickr.image_root)
    assert lavis == karpathy
    _check_consistent(lavis, flickr)
    assert [len(t) for t in lavis.img2txt] == [4, 5, 6, 4, 5, 6]  # never assume 5
    assert lavis.images[0].key == f"flickr:{flickr.image_ids[0]}"
    assert lavis.images[0].path == str(flickr.root / "flickr30k-images" / f"{flickr.image_ids[0]}.jpg")
    assert list(lavis.image_ids) == sorted(lavis.image_ids)  # Karpathy order: file names sorted
    # The train images of the Karpathy file are skipped; the train split can be asked for.
    assert len(load_karpathy(flickr.karpathy_file, flickr.image_root, split="train").image_ids) == 2


def test_coco_lavis_and_karpathy_forms_give_the_same_gallery(coco: RetrievalFixture) -> None:
    lavis = load_lavis_list(coco.lavis_file, coco.image_root, "coco")
    assert lavis == load_karpathy(coco.karpathy_file, coco.image_root)
    _check_consistent(lavis, coco)
    doc = json.loads(coco.lavis_file.read_text())
    assert doc[0]["image"].startswith("val2014/COCO_val2014_")
    assert lavis.images[0].key == f"coco:{int(coco.image_ids[0])}" and not coco.image_ids[0].startswith("0")


def test_limit_takes_the_first_images(flickr: RetrievalFixture) -> None:
    full = load_lavis_list(flickr.lavis_file, flickr.image_root, "flickr30k")
    for loader in (
        lambda: load_lavis_list(flickr.lavis_file, flickr.image_root, "flickr30k", limit=2),
        lambda: load_karpathy(flickr.karpathy_file, flickr.image_root, limit=2),
    ):
        part = loader()
        assert part.image_ids == full.image_ids[:2] and part.texts == full.texts[:9]


def test_karpathy_flickr_images_directly_under_the_root(flickr: RetrievalFixture, tmp_path: Path) -> None:
    shutil.copytree(flickr.root / "flickr30k-images", tmp_path / "imgs")
    data = load_karpathy(flickr.karpathy_file, tmp_path / "imgs")
    assert all(Path(i.path).parent == tmp_path / "imgs" and Path(i.path).is_file() for i in data.images)


def test_either_form_is_recognised(flickr: RetrievalFixture) -> None:
    a = load_retrieval_annotations(flickr.lavis_file, "flickr30k", flickr.image_root)
    assert a == load_retrieval_annotations(flickr.karpathy_file, "flickr30k", flickr.image_root)
    with pytest.raises(BadInputError, match="expected 'coco'"):
        load_retrieval_annotations(flickr.karpathy_file, "coco")
    with pytest.raises(BadInputError, match="expected 'coco'"):
        load_karpathy(flickr.karpathy_file, flickr.image_root, dataset="coco")


def _write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    "doc, message",
    [
        ([{"image": "flickr30k-images/1.jpg", "caption": []}], "record 0.caption: image has no captions"),
        ([{"image": "flickr30k-images/1.jpg", "caption": "a dog"}], "one string"),
        ([{"image": "flickr30k-images/1.jpg"}], "record 0 lacks key"),
        ([{"image": "flickr30k-images/1.jpg", "caption": ["a", 3]}], r"caption\[1\] has the wrong type"),
        (
            [
                {"image": "flickr30k-images/1.jpg", "caption": ["a"]},
                {"image": "flickr30k-images/1.jpg", "caption": ["b"]},
            ],
            "record 1: duplicate image 1",
        ),
        ([], "holds no images"),
        ({"images": []}, "should be a JSON list"),
    ],
)
def test_lavis_list_errors_name_file_and_record(tmp_path: Path, doc: object, message: str) -> None:
    path = _write(tmp_path, doc)
    with pytest.raises(BadInputError, match=message) as info:
        load_lavis_list(path, tmp_path, "flickr30k")
    assert str(path) in str(info.value)


def _karpathy(images: list[dict], dataset: str = "flickr30k") -> dict:
    return {"images": images, "dataset": dataset}


def _img(name: str, split: str = "test", captions: tuple[str, ...] = ("a dog",)) -> dict:
    return {"filename": name, "split": split, "sentences": [{"raw": c, "tokens": c.split()} for c in captions]}


@pytest.mark.parametrize(
    "doc, message",
    [
        (_karpathy([_img("1.jpg", captions=())]), r"images\[0\]: image 1.jpg has no captions"),
        (_karpathy([_img("1.jpg"), _img("1.jpg")]), r"images\[1\]: duplicate image 1"),
        (_karpathy([_img("1.jpg", split="train")]), "split 'test' holds no images"),
        (_karpathy([_img("1.jpg")], dataset="flickr8k"), "supported"),
        (_karpathy([{"filename": "1.jpg", "split": "test"}]), "lacks key"),
        (_karpathy([_img("COCO_val2014_000000000001.jpg")], dataset="coco"), "lacks key"),
    ],
)
def test_karpathy_errors_name_file_and_record(tmp_path: Path, doc: dict, message: str) -> None:
    path = _write(tmp_path, doc)
    with pytest.raises(BadInputError, match=message):
        load_karpathy(path, tmp_path)


def test_unknown_dataset_and_bad_coco_name(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"image": "val2014/cat.jpg", "caption": ["a cat"]}])
    with pytest.raises(BadInputError, match="cannot read a COCO id"):
        load_lavis_list(path, tmp_path, "coco")
    with pytest.raises(BadInputError, match="must be one of"):
        load_lavis_list(path, tmp_path, "nocaps")


# ---------------------------------------------------------------- blip2-bench score flickr30k


def _matrices(data: RetrievalData, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_img, n_txt = len(data.image_ids), len(data.texts)
    return rng.random((n_img, n_txt), dtype=np.float32), rng.random((n_txt, n_img), dtype=np.float32)


def test_score_command_prints_and_writes_lavis_keys(flickr: RetrievalFixture, tmp_path: Path, capsys) -> None:
    data = load_lavis_list(flickr.lavis_file, flickr.image_root, "flickr30k")
    i2t, t2i = _matrices(data)
    np.savez(tmp_path / "scores.npz", i2t=i2t, t2i=t2i)
    out = tmp_path / "out" / "scores.json"
    argv = ["flickr30k", "--annotations", str(flickr.lavis_file), "--predictions", str(tmp_path / "scores.npz")]
    assert score_main([*argv, "--json", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written == recall_metrics(i2t, t2i, data.txt2img, data.img2txt)
    assert list(written) == [
        "txt_r1", "txt_r5", "txt_r10", "txt_r_mean", "img_r1", "img_r5", "img_r10", "img_r_mean", "r_mean",
        "agg_metrics",
    ]  # fmt: skip
    assert "text retrieval" in capsys.readouterr().out
    # The Karpathy file fixes the same order.
    karpathy_argv = ["flickr30k", "--annotations", str(flickr.karpathy_file), "--predictions", argv[-1]]
    assert score_main(karpathy_argv) == 0


@pytest.mark.parametrize("case", ["shape", "nan", "missing_key", "not_npz", "three_d", "transposed"])
def test_score_command_refuses_bad_predictions(flickr: RetrievalFixture, tmp_path: Path, capsys, case: str) -> None:
    data = load_lavis_list(flickr.lavis_file, flickr.image_root, "flickr30k")
    i2t, t2i = _matrices(data)
    path = tmp_path / "scores.npz"
    if case == "shape":
        np.savez(path, i2t=i2t[:, :-1], t2i=t2i)
    elif case == "nan":
        t2i[4, 2] = np.nan
        np.savez(path, i2t=i2t, t2i=t2i)
    elif case == "missing_key":
        np.savez(path, i2t=i2t)
    elif case == "not_npz":
        path.write_text("not a zip")
    elif case == "three_d":
        np.savez(path, i2t=i2t[None], t2i=t2i)
    else:
        np.savez(path, i2t=t2i, t2i=i2t)
    argv = ["flickr30k", "--annotations", str(flickr.lavis_file), "--predictions", str(path)]
    assert score_main(argv) == 2
    err = capsys.readouterr().err
    assert str(path) in err and err.count("\n") == 1


def test_score_command_refuses_coco_annotations_for_flickr_names(flickr: RetrievalFixture, tmp_path: Path) -> None:
    data = load_lavis_list(flickr.lavis_file, flickr.image_root, "flickr30k")
    np.savez(tmp_path / "s.npz", **dict(zip(("i2t", "t2i"), _matrices(data), strict=True)))
    argv = ["coco_retrieval", "--annotations", str(flickr.lavis_file), "--predictions", str(tmp_path / "s.npz")]
    assert score_main(argv) == 2
