"""COCO captioning files as users have them: the COCO caption format (LAVIS's `_gt` files, NoCaps),
LAVIS's `coco_karpathy_{test,val}.json`, and Karpathy's `dataset_coco.json`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from ..types import ImageSource
from .json_files import read_json, require_keys, require_list, require_type
from .karpathy import raw_captions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaptionSample:
    image_id: int
    image: ImageSource
    references: tuple[str, ...] | None
    """Raw reference captions (scored after PTB tokenization); None for splits without them."""
    domain: str | None = None
    """NoCaps only: in-domain, near-domain or out-domain, read from the file."""

    @property
    def sample_id(self) -> str:
        return str(self.image_id)


@dataclass(frozen=True)
class CocoCaptionFile:
    """A file in the COCO caption format, images in file order (as pycocotools' getImgIds)."""

    path: Path
    images: dict[int, Mapping[str, Any]]
    refs: dict[int, tuple[str, ...]]
    """image id -> its captions in file order (pycocotools' imgToAnns); empty without annotations."""


def read_coco_caption_file(path: Path, what: str, require_captions: bool = True) -> CocoCaptionFile:
    """`{"images": [{"id"}...], "annotations": [{"image_id", "caption"}...]}`, checked record by record."""
    doc = read_json(path, what)
    if isinstance(doc, list):
        raise BadInputError(
            f"{path}: a JSON list, not the COCO caption format {{'images', 'annotations'}} "
            "(LAVIS's coco_karpathy_test.json is a list: its references are in coco_karpathy_test_gt.json)"
        )
    if isinstance(doc, Mapping) and "images" in doc and "annotations" not in doc and require_captions:
        hint = " (this looks like Karpathy's dataset_coco.json)" if "dataset" in doc else ""
        raise BadInputError(f"{path}: no 'annotations' (reference captions){hint}; expected the COCO caption format")
    require_keys(doc, ["images", "annotations"] if require_captions else ["images"], path, "top level")
    images: dict[int, Mapping[str, Any]] = {}
    for i, image in enumerate(require_list(doc["images"], path, "'images'")):
        require_keys(image, ["id"], path, f"images[{i}]")
        image_id = require_type(image["id"], int, path, f"images[{i}].id")
        if image_id in images:
            raise BadInputError(f"{path}: images[{i}]: duplicate image id {image_id}")
        images[image_id] = image
    if not images:
        raise BadInputError(f"{path}: 'images' is empty")
    refs: dict[int, list[str]] = {}
    unlisted = 0
    for i, ann in enumerate(require_list(doc.get("annotations", []), path, "'annotations'")):
        require_keys(ann, ["image_id", "caption"], path, f"annotations[{i}]")
        image_id = require_type(ann["image_id"], int, path, f"annotations[{i}].image_id")
        caption = require_type(ann["caption"], str, path, f"annotations[{i}].caption")
        if image_id in images:
            refs.setdefault(image_id, []).append(caption)
        else:
            unlisted += 1  # pycocotools keeps them out of every evaluation too
    if unlisted:
        log.warning("%s: %d annotation(s) name images not in 'images'; they are ignored", path, unlisted)
    if require_captions:
        bare = [image_id for image_id in images if image_id not in refs]
        if bare:
            raise BadInputError(
                f"{path}: {len(bare)} image(s) have no reference caption (e.g. image id {bare[0]}); "
                "pycocoevalcap cannot score them"
            )
    return CocoCaptionFile(path, images, {k: tuple(refs[k]) for k in images if k in refs})


def lavis_image_id(image: str) -> int:
    """COCO id from a LAVIS "image" path: the number after the last underscore of the file name."""
    stem = image.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    digits = stem.rsplit("_", 1)[-1]
    if not digits.isdigit():
        raise ValueError(image)
    return int(digits)


def load_lavis_karpathy(
    ann_file: Path, gt_file: Path, image_root: Path, limit: int | None = None
) -> list[CaptionSample]:
    """LAVIS's coco_karpathy_<split>.json (images, file order) scored against its _gt file."""
    entries = require_list(read_json(ann_file, "COCO Karpathy annotation file"), ann_file, "top level")
    if not entries:
        raise BadInputError(f"{ann_file}: no images")
    gt = read_coco_caption_file(gt_file, "COCO Karpathy _gt file")
    samples: list[CaptionSample] = []
    seen: set[int] = set()
    for i, entry in enumerate(entries[:limit] if limit else entries):
        where = f"record {i}"
        require_keys(entry, ["image"], ann_file, where)
        image = require_type(entry["image"], str, ann_file, f"{where}.image")
        try:
            image_id = lavis_image_id(image)
        except ValueError:
            raise BadInputError(f"{ann_file}: {where}: no COCO id after the last '_' in image {image!r}") from None
        if image_id in seen:
            raise BadInputError(f"{ann_file}: {where}: duplicate image id {image_id} ({image})")
        seen.add(image_id)
        if image_id not in gt.refs:
            raise BadInputError(f"{gt_file}: no reference captions for image id {image_id} ({ann_file} {where})")
        samples.append(_sample(image_id, image_root / image, gt.refs[image_id]))
    return samples


def load_karpathy_dataset(
    dataset_file: Path, split: str, image_root: Path, limit: int | None = None
) -> list[CaptionSample]:
    """Karpathy's dataset_coco.json: images of `split`, id = cocoid, references = sentences' raw."""
    doc = require_keys(read_json(dataset_file, "Karpathy dataset file"), ["images"], dataset_file, "top level")
    samples: list[CaptionSample] = []
    seen: set[int] = set()
    for i, image in enumerate(require_list(doc["images"], dataset_file, "'images'")):
        where = f"images[{i}]"
        require_keys(image, ["split"], dataset_file, where)
        if image["split"] != split:
            continue
        require_keys(image, ["filepath", "filename", "cocoid", "sentences"], dataset_file, where)
        image_id = require_type(image["cocoid"], int, dataset_file, f"{where}.cocoid")
        if image_id in seen:
            raise BadInputError(f"{dataset_file}: {where}: duplicate cocoid {image_id}")
        seen.add(image_id)
        raws = raw_captions(image, dataset_file, where, str(image_id))
        path = image_root / str(image["filepath"]) / str(image["filename"])
        samples.append(_sample(image_id, path, tuple(raws)))
        if limit and len(samples) == limit:
            break
    if not samples:
        raise BadInputError(f"{dataset_file}: no images with split {split!r}")
    return samples


def _sample(image_id: int, path: Path, refs: tuple[str, ...]) -> CaptionSample:
    return CaptionSample(image_id, ImageSource(f"coco:{image_id}", path=str(path)), refs)
