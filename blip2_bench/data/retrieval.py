"""Retrieval loaders: BLIP/LAVIS list files and Karpathy's dataset_*.json, for Flickr30K and COCO.

Both give the gallery LAVIS builds (lavis/datasets/datasets/retrieval_datasets.py,
RetrievalEvalDataset): images in file order, and texts in image order, each image's
captions in file order; `txt2img`/`img2txt` map between them. Captions stay raw here
(the task applies `blip_caption`).

Image paths:

* LAVIS list: `image_root / record["image"]` ("flickr30k-images/<id>.jpg" relative to
  the folder holding flickr30k-images/; "val2014/COCO_val2014_<id>.jpg" relative to the
  COCO image root).
* Karpathy COCO: `image_root / filepath / filename`.
* Karpathy Flickr30K has no filepath: `image_root / "flickr30k-images" / filename` when
  image_root holds a flickr30k-images/ folder (the LAVIS convention, so one root serves
  both files), else `image_root / filename`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from ..types import ImageSource
from .json_files import read_json, require_keys, require_list, require_type
from .karpathy import raw_captions

DATASETS = ("flickr30k", "coco")
FLICKR_FOLDER = "flickr30k-images"
# COCO file names end in the zero-padded id: COCO_val2014_000000391895.jpg.
_COCO_ID = re.compile(r"_(\d+)$")


@dataclass(frozen=True)
class RetrievalData:
    """A retrieval gallery: images, their captions, and the maps between them."""

    image_ids: tuple[str, ...]
    """Stable ids: the Flickr file stem, or the COCO id as a string."""
    images: tuple[ImageSource, ...]
    """One per image, keys "flickr:<id>" / "coco:<id>"."""
    texts: tuple[str, ...]
    """Raw captions: images in order, each image's captions in order."""
    txt2img: tuple[int, ...]
    """Image index of each text."""
    img2txt: tuple[tuple[int, ...], ...]
    """Text indices of each image (never assume 5)."""


def _image_id(dataset: str, file_name: str, path: Path, where: str) -> str:
    stem = Path(file_name).stem
    if dataset == "flickr30k":
        if not stem.isdigit():  # Flickr30k images are <digits>.jpg; anything else is another dataset
            raise BadInputError(f"{path}: {where}: {file_name!r} is not a Flickr30k image file name")
        return stem
    match = _COCO_ID.search(stem)
    if match is None:
        raise BadInputError(f"{path}: {where}: cannot read a COCO id from image file name {file_name!r}")
    return str(int(match.group(1)))


def _captions(value: Any, path: Path, where: str) -> list[str]:
    if isinstance(value, str):
        raise BadInputError(
            f"{path}: {where}: 'caption' is one string, expected a list of captions "
            "(is this a training file? evaluation files list each image once with all its captions)"
        )
    captions = require_list(value, path, where)
    if not captions:
        raise BadInputError(f"{path}: {where}: image has no captions")
    return [require_type(c, str, path, f"{where}[{j}]") for j, c in enumerate(captions)]


class _Builder:
    """Collects images and captions in order; refuses duplicate images."""

    def __init__(self, path: Path, dataset: str) -> None:
        self.path, self.dataset = path, dataset
        self.ids: list[str] = []
        self.images: list[ImageSource] = []
        self.texts: list[str] = []
        self.txt2img: list[int] = []
        self.img2txt: list[tuple[int, ...]] = []
        self._seen: dict[str, str] = {}

    def add(self, image_id: str, image_path: Path, captions: Sequence[str], where: str) -> None:
        if image_id in self._seen:
            raise BadInputError(f"{self.path}: {where}: duplicate image {image_id} (also {self._seen[image_id]})")
        self._seen[image_id] = where
        index = len(self.ids)
        start = len(self.texts)
        self.ids.append(image_id)
        prefix = "flickr" if self.dataset == "flickr30k" else "coco"
        self.images.append(ImageSource(f"{prefix}:{image_id}", path=str(image_path)))
        self.texts.extend(captions)
        self.txt2img.extend([index] * len(captions))
        self.img2txt.append(tuple(range(start, len(self.texts))))

    def build(self, what: str) -> RetrievalData:
        if not self.ids:
            raise BadInputError(f"{self.path}: {what} holds no images")
        return RetrievalData(
            tuple(self.ids), tuple(self.images), tuple(self.texts), tuple(self.txt2img), tuple(self.img2txt)
        )


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise BadInputError(f"retrieval dataset must be one of {DATASETS}, got {dataset!r}")


def lavis_list_from_doc(
    doc: Any, ann_file: Path, image_root: Path, dataset: str, limit: int | None = None
) -> RetrievalData:
    """`load_lavis_list` on an already parsed JSON document."""
    _check_dataset(dataset)
    records = require_list(doc, ann_file, "top level")
    builder = _Builder(ann_file, dataset)
    for i, record in enumerate(records[:limit] if limit else records):
        where = f"record {i}"
        require_keys(record, ["image", "caption"], ann_file, where)
        file_name = require_type(record["image"], str, ann_file, f"{where}.image")
        captions = _captions(record["caption"], ann_file, f"{where}.caption")
        builder.add(_image_id(dataset, file_name, ann_file, where), image_root / file_name, captions, where)
    return builder.build("the list")


def load_lavis_list(ann_file: Path, image_root: Path, dataset: str, limit: int | None = None) -> RetrievalData:
    """A BLIP/LAVIS evaluation list (flickr30k_test.json, coco_karpathy_test.json); first `limit` images."""
    ann_file = Path(ann_file)
    doc = read_json(ann_file, f"{dataset} retrieval annotations")
    return lavis_list_from_doc(doc, ann_file, Path(image_root), dataset, limit)


def karpathy_from_doc(
    doc: Any,
    karpathy_file: Path,
    image_root: Path,
    split: str = "test",
    limit: int | None = None,
    expect: str | None = None,
) -> RetrievalData:
    """`load_karpathy` on an already parsed JSON document."""
    top = require_keys(doc, ["images", "dataset"], karpathy_file, "top level")
    dataset = top["dataset"]
    if dataset not in DATASETS:
        raise BadInputError(f"{karpathy_file}: 'dataset' is {dataset!r}; supported: {', '.join(DATASETS)}")
    if expect is not None and dataset != expect:
        raise BadInputError(f"{karpathy_file}: a Karpathy file of dataset {dataset!r}, expected {expect!r}")
    flickr_root = image_root / FLICKR_FOLDER if (image_root / FLICKR_FOLDER).is_dir() else image_root
    builder = _Builder(karpathy_file, dataset)
    for i, image in enumerate(require_list(top["images"], karpathy_file, "'images'")):
        where = f"images[{i}]"
        require_keys(image, ["split", "filename", "sentences"], karpathy_file, where)
        if image["split"] != split:
            continue
        if limit and len(builder.ids) >= limit:
            break
        file_name = require_type(image["filename"], str, karpathy_file, f"{where}.filename")
        captions = raw_captions(image, karpathy_file, where, file_name)
        if dataset == "coco":
            require_keys(image, ["filepath", "cocoid"], karpathy_file, where)
            folder = require_type(image["filepath"], str, karpathy_file, f"{where}.filepath")
            image_id = str(require_type(image["cocoid"], int, karpathy_file, f"{where}.cocoid"))
            path = image_root / folder / file_name
        else:
            image_id = _image_id(dataset, file_name, karpathy_file, where)
            path = flickr_root / file_name
        builder.add(image_id, path, captions, where)
    return builder.build(f"split {split!r}")


def load_karpathy(
    karpathy_file: Path, image_root: Path, split: str = "test", limit: int | None = None, dataset: str | None = None
) -> RetrievalData:
    """Karpathy's dataset_flickr30k.json / dataset_coco.json, images of `split` in file order.

    The file names its dataset; pass `dataset` to refuse a file of another one.
    """
    karpathy_file = Path(karpathy_file)
    doc = read_json(karpathy_file, "Karpathy split file")
    return karpathy_from_doc(doc, karpathy_file, Path(image_root), split, limit, expect=dataset)


def load_retrieval_annotations(
    path: Path, dataset: str, image_root: Path = Path("."), split: str = "test", limit: int | None = None
) -> RetrievalData:
    """Either form, told apart by shape: a JSON list is a LAVIS file, an object a Karpathy file."""
    path = Path(path)
    doc = read_json(path, f"{dataset} retrieval annotations")
    if isinstance(doc, Mapping):
        return karpathy_from_doc(doc, path, Path(image_root), split, limit, expect=dataset)
    return lavis_list_from_doc(doc, path, Path(image_root), dataset, limit)
