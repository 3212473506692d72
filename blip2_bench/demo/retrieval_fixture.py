"""Tiny retrieval data in the files users download: Flickr30K and COCO, LAVIS and Karpathy forms.

`write_flickr30k_fixture` writes, under ``root``::

    root/flickr30k_test.json          BLIP/LAVIS list: [{"image": "flickr30k-images/<id>.jpg", "caption": [...]}]
    root/dataset_flickr30k.json       Karpathy: {"images": [...], "dataset": "flickr30k"}
    root/flickr30k-images/<id>.jpg

`write_coco_retrieval_fixture` writes ``coco_karpathy_test.json``, ``dataset_coco.json``
and ``val2014/COCO_val2014_<12-digit id>.jpg`` (plus train2014/ for the train images).

The Karpathy files also hold a few train images (skipped by split "test"); Flickr images
are sorted by file name as a string, as in Karpathy's file. Captions per image vary
(4, 5, 6, ...) and are raw and messy (case, punctuation, doubled and trailing spaces,
one longer than LAVIS's 35-token / 50-word limits), as real annotations are.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from .vqav2_fixture import _draw_image

CAPTIONS_PER_IMAGE = (4, 5, 6)
_SUBJECTS = ("A man", "Two dogs", "A little girl", "Several people", "A woman", "A boy", "The black dog", "Three kids")
_ACTIONS = ("is sitting on", "are running across", "jumps over", "looks at", "is walking past", "stands near")
_PLACES = ("a red bench", "the beach", "a wooden fence", "the street", "a pool", "the grass", "a snowy hill")
_LONG = (
    "A very long caption that keeps going : a man in an orange hat and a blue shirt is standing next to a "
    "woman who holds an umbrella while two children play with a black dog near a fountain in a busy city park "
    "on a sunny afternoon with many people walking by and birds flying over the trees and buildings far away"
)


@dataclass(frozen=True)
class RetrievalFixture:
    """Paths of a written fixture and what the test split holds."""

    root: Path
    lavis_file: Path
    """flickr30k_test.json or coco_karpathy_test.json."""
    karpathy_file: Path
    """dataset_flickr30k.json or dataset_coco.json (with a few train images too)."""
    image_root: Path
    """The root both files' image paths resolve against."""
    image_ids: tuple[str, ...]
    """Test images in file order (Flickr file stem or COCO id as a string)."""
    captions: tuple[tuple[str, ...], ...]
    """Raw captions of each test image, in order."""


def _messy(caption: str, rng: random.Random) -> str:
    """A raw caption as annotators typed it: odd case, punctuation, stray spaces."""
    kind = rng.randrange(6)
    if kind == 0:
        return caption.upper() + " ."
    if kind == 1:
        return f'{caption} ("really")!  '
    if kind == 2:
        return caption.replace(" ", "  ", 2) + ";"
    if kind == 3:
        return caption.lower() + "\n"
    if kind == 4:
        return caption + "#1 ~ * :"
    return caption + "."


def _captions(n: int, rng: random.Random, long_one: bool) -> list[str]:
    out = [_messy(f"{rng.choice(_SUBJECTS)} {rng.choice(_ACTIONS)} {rng.choice(_PLACES)}", rng) for _ in range(n)]
    if long_one:
        out[-1] = _LONG
    return out


def _tokens(raw: str) -> list[str]:
    # Karpathy's tokens: lowercase words, punctuation dropped.
    return re.findall(r"[a-z0-9]+", raw.lower())


def _karpathy_image(index: int, split: str, filename: str, captions: list[str], sentid: int) -> dict:
    sentences = [{"tokens": _tokens(c), "raw": c, "imgid": index, "sentid": sentid + j} for j, c in enumerate(captions)]
    return {
        "sentids": [s["sentid"] for s in sentences],
        "imgid": index,
        "sentences": sentences,
        "split": split,
        "filename": filename,
    }


def _plan(n_images: int, n_train: int, rng: random.Random) -> list[tuple[str, list[str]]]:
    """(split, captions) per image; the first test image gets the over-long caption."""
    splits = ["test"] * n_images + ["train"] * n_train
    rng.shuffle(splits)
    plan, test_seen = [], 0
    for split in splits:
        n_caps = CAPTIONS_PER_IMAGE[test_seen % len(CAPTIONS_PER_IMAGE)] if split == "test" else 5
        plan.append((split, _captions(n_caps, rng, long_one=split == "test" and test_seen == 0)))
        test_seen += split == "test"
    return plan


def write_flickr30k_fixture(root: str | Path, n_images: int = 6, seed: int = 0, n_train: int = 2) -> RetrievalFixture:
    """Flickr30K test split of `n_images` images (plus `n_train` train images in the Karpathy file)."""
    if n_images < 1:
        raise ValueError("n_images must be >= 1")
    rng = random.Random(seed)
    root = Path(root)
    image_dir = root / "flickr30k-images"
    image_dir.mkdir(parents=True, exist_ok=True)
    # Flickr ids are 9-10 digit numbers; Karpathy's file lists them sorted as strings.
    ids = sorted(str(rng.randrange(10**8, 10**10)) for _ in range(n_images + n_train))
    karpathy, lavis, test_ids, test_caps, sentid = [], [], [], [], 0
    for index, (image_id, (split, captions)) in enumerate(zip(ids, _plan(n_images, n_train, rng), strict=True)):
        _draw_image(rng, (48 + 4 * index, 40 + 2 * index)).save(image_dir / f"{image_id}.jpg", quality=90)
        karpathy.append(_karpathy_image(index, split, f"{image_id}.jpg", captions, sentid))
        sentid += len(captions)
        if split == "test":
            lavis.append({"image": f"flickr30k-images/{image_id}.jpg", "caption": captions})
            test_ids.append(image_id)
            test_caps.append(tuple(captions))
    lavis_file, karpathy_file = root / "flickr30k_test.json", root / "dataset_flickr30k.json"
    lavis_file.write_text(json.dumps(lavis))
    karpathy_file.write_text(json.dumps({"images": karpathy, "dataset": "flickr30k"}))
    return RetrievalFixture(root, lavis_file, karpathy_file, root, tuple(test_ids), tuple(test_caps))


def write_coco_retrieval_fixture(
    root: str | Path, n_images: int = 5, seed: int = 0, n_train: int = 2
) -> RetrievalFixture:
    """COCO Karpathy test split of `n_images` val2014 images (plus `n_train` train2014 images)."""
    if n_images < 1:
        raise ValueError("n_images must be >= 1")
    rng = random.Random(seed)
    root = Path(root)
    ids = rng.sample(range(1, 581_930), n_images + n_train)
    karpathy, lavis, test_ids, test_caps, sentid = [], [], [], [], 0
    for index, (coco_id, (split, captions)) in enumerate(zip(ids, _plan(n_images, n_train, rng), strict=True)):
        folder = "val2014" if split == "test" else "train2014"
        filename = f"COCO_{folder}_{coco_id:012d}.jpg"
        (root / folder).mkdir(parents=True, exist_ok=True)
        _draw_image(rng, (44 + 4 * index, 36 + 2 * index)).save(root / folder / filename, quality=90)
        entry = _karpathy_image(index, split, filename, captions, sentid)
        karpathy.append({"filepath": folder, **entry, "cocoid": coco_id})
        sentid += len(captions)
        if split == "test":
            lavis.append({"image": f"{folder}/{filename}", "caption": captions})
            test_ids.append(str(coco_id))
            test_caps.append(tuple(captions))
    lavis_file, karpathy_file = root / "coco_karpathy_test.json", root / "dataset_coco.json"
    lavis_file.write_text(json.dumps(lavis))
    karpathy_file.write_text(json.dumps({"images": karpathy, "dataset": "coco"}))
    return RetrievalFixture(root, lavis_file, karpathy_file, root, tuple(test_ids), tuple(test_caps))
