"""Tiny COCO Karpathy and NoCaps samples in the files' real formats, for offline captioning runs.

`write_caption_fixture(root)` lays out one data_root for both tasks::

    root/coco/annotations/coco_karpathy_test.json      LAVIS: [{"image", "caption": [...]}]
    root/coco/annotations/coco_karpathy_test_gt.json   LAVIS: {"annotations", "images"} only
    root/coco/annotations/dataset_coco.json            Karpathy: {"images": [...], "dataset": "coco"}
    root/coco/images/val2014/COCO_val2014_%012d.jpg
    root/nocaps/nocaps_val_4500_captions.json          nocaps.org val (domain per image, 10 captions)
    root/nocaps/nocaps_test_image_info.json            nocaps.org test (no captions)
    root/nocaps/val/<open_images_id>.jpg, root/nocaps/test/<open_images_id>.jpg

Captions are raw and messy as in the real files (case, trailing spaces, missing or doubled
punctuation, quotes, brackets, a newline inside one); some COCO images have 6 or 7
captions; one reference is punctuation only, so it tokenizes to nothing. Images are JPEGs
in RGB and grayscale ("L") and a CMYK one, in distinct sizes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

_SUBJECTS = ("A dog", "a brown dog", "Two cats", "A man", "a woman", "A red bus", "a giraffe", "Some people")
_ACTIONS = ("sitting on", "riding", "standing next to", "looking at", "walking past", "sleeping on", "near")
_PLACES = ("a couch", "the street", "a wooden table", "a field of grass", "the beach", "a bed", "a kitchen counter")
# Applied to a clean caption to make it look like the raw human captions in the files.
_MESS = (
    lambda c: c + ".",
    lambda c: c + " ",
    lambda c: c.upper() + ".",
    lambda c: c.replace(" ", "  ", 1),
    lambda c: c + "!!",
    lambda c: f'"{c}" (photo)',
    lambda c: c.replace(" a ", " a\n", 1) + ".",
    lambda c: c + ", it's sunny - nice;",
    lambda c: c,
)
_EMPTYISH = " . "
IMAGE_KINDS = ("RGB", "L", "RGB", "CMYK")
NOCAPS_DOMAINS = ("in-domain", "near-domain", "near-domain", "out-domain", "near-domain", "in-domain", "out-domain")


@dataclass(frozen=True)
class CaptionFixture:
    root: Path
    coco_test: Path
    coco_gt: Path
    karpathy: Path
    nocaps_val: Path
    nocaps_test: Path
    coco_ids: tuple[int, ...]
    """COCO test image ids in file order."""
    nocaps_val_ids: tuple[int, ...]


def _caption(rng: random.Random) -> str:
    clean = f"{rng.choice(_SUBJECTS)} {rng.choice(_ACTIONS)} {rng.choice(_PLACES)}"
    return rng.choice(_MESS)(clean)


def _image(rng: random.Random, size: tuple[int, int], kind: str, path: Path) -> None:
    img = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(3):
        x, y = rng.randrange(size[0] // 2), rng.randrange(size[1] // 2)
        draw.rectangle((x, y, x + size[0] // 3, y + size[1] // 3), fill=tuple(rng.randrange(256) for _ in range(3)))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.convert(kind).save(path, format="JPEG", quality=90)


def _write(path: Path, doc: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def write_caption_fixture(root: str | Path, n_coco: int = 6, n_nocaps: int = 7, seed: int = 0) -> CaptionFixture:
    """Write the COCO Karpathy (both forms) and NoCaps (val + test) files and images under `root`."""
    if n_nocaps < 4:
        raise ValueError("n_nocaps must be >= 4 so that all three domains occur")
    root = Path(root)
    rng = random.Random(seed)
    coco = _write_coco(root / "coco", rng, n_coco)
    val_ids, nocaps_val = _write_nocaps(root / "nocaps", rng, "val", n_nocaps)
    _, nocaps_test = _write_nocaps(root / "nocaps", rng, "test", max(2, n_nocaps // 2))
    return CaptionFixture(root, *coco[1:], nocaps_val, nocaps_test, coco[0], val_ids)


def _write_coco(folder: Path, rng: random.Random, n: int) -> tuple[tuple[int, ...], Path, Path, Path]:
    ids = rng.sample(range(100_000, 581_930), n)  # Karpathy's test order is not sorted by id
    lavis, gt_images, gt_anns, karpathy_images = [], [], [], []
    for k, image_id in enumerate(ids):
        name = f"COCO_val2014_{image_id:012d}.jpg"
        _image(rng, (40 + 3 * k, 36 + 2 * k), IMAGE_KINDS[k % len(IMAGE_KINDS)], folder / "images" / "val2014" / name)
        captions = [_caption(rng) for _ in range((5, 6, 7)[k % 3])]  # some COCO images have 6 or 7
        if k == 1:
            captions[2] = _EMPTYISH
        lavis.append({"image": f"val2014/{name}", "caption": captions})
        gt_images.append({"id": image_id})
        gt_anns += [{"image_id": image_id, "caption": c, "id": len(gt_anns) + j} for j, c in enumerate(captions)]
        karpathy_images.append(_karpathy_image(image_id, "val2014", name, "test", captions, k))
    # Other splits are present in dataset_coco.json and must be skipped (no image files for them).
    karpathy_images.insert(1, _karpathy_image(9, "train2014", "COCO_train2014_000000000009.jpg", "train", ["x"], n))
    karpathy_images.append(_karpathy_image(42, "val2014", "COCO_val2014_000000000042.jpg", "restval", ["y"], n + 1))
    ann = folder / "annotations"
    return (
        tuple(ids),
        _write(ann / "coco_karpathy_test.json", lavis),
        _write(ann / "coco_karpathy_test_gt.json", {"annotations": gt_anns, "images": gt_images}),
        _write(ann / "dataset_coco.json", {"images": karpathy_images, "dataset": "coco"}),
    )


def _karpathy_image(image_id: int, filepath: str, filename: str, split: str, captions: list[str], k: int) -> dict:
    sentences = [
        {"tokens": c.lower().split(), "raw": c, "imgid": k, "sentid": 10 * k + j} for j, c in enumerate(captions)
    ]
    return {
        "filepath": filepath,
        "sentids": [s["sentid"] for s in sentences],
        "filename": filename,
        "imgid": k,
        "split": split,
        "sentences": sentences,
        "cocoid": image_id,
    }


def _write_nocaps(folder: Path, rng: random.Random, split: str, n: int) -> tuple[tuple[int, ...], Path]:
    images, annotations = [], []
    for k in range(n):
        image_id = k if split == "val" else 5000 + k
        oid = "".join(rng.choice("0123456789abcdef") for _ in range(16))
        size = (44 + 2 * k, 38 + k)
        _image(rng, size, IMAGE_KINDS[k % len(IMAGE_KINDS)], folder / split / f"{oid}.jpg")
        image = {
            "id": image_id,
            "open_images_id": oid,
            "height": size[1],
            "width": size[0],
            "coco_url": f"https://s3.amazonaws.com/nocaps/{split}/{oid}.jpg",
            "file_name": f"{oid}.jpg",
            "license": 0,
            "date_captured": "2018-11-06 11:04:33",
        }
        if split == "val":
            image["domain"] = NOCAPS_DOMAINS[k % len(NOCAPS_DOMAINS)]
            annotations += [{"image_id": image_id, "id": len(annotations), "caption": _caption(rng)} for _ in range(10)]
        images.append(image)
    info = {"url": "", "date_created": "2018/11/06", "version": "0.1", "year": 2018, "contributor": "nocaps team"}
    doc: dict = {"licenses": [], "info": {**info, "description": f"nocaps {split} dataset"}, "images": images}
    if split == "val":
        doc["annotations"] = annotations
        return tuple(i["id"] for i in images), _write(folder / "nocaps_val_4500_captions.json", doc)
    return tuple(i["id"] for i in images), _write(folder / "nocaps_test_image_info.json", doc)
