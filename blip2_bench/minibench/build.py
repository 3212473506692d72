"""Plan the mini benchmark from a seed (test sets, disjoint training scenes) and write its data_root."""

from __future__ import annotations

import json
import logging
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .language import human_answers, majority, questions, raw_captions
from .scenes import IMAGE_SIZE, Scene, sample_scenes
from .vocab import DOMAINS
from .writers import (
    CaptionItem,
    VqaItem,
    write_coco_karpathy,
    write_flickr30k,
    write_json,
    write_nocaps_val,
    write_vqav2,
)

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Bump when the generator's output for a given seed changes."""
DEFAULT_SEED = 0
STAMP = "minibench.json"


@dataclass(frozen=True)
class Sizes:
    vqa_images: int = 20
    questions_per_image: int = 4
    coco_images: int = 50
    nocaps_per_domain: int = 12
    flickr_images: int = 50
    coco_refs: int = 5
    nocaps_refs: int = 10
    flickr_refs: int = 5


@dataclass(frozen=True)
class Plan:
    """Every test item of the benchmark; the same seed and sizes always give the same plan."""

    seed: int
    sizes: Sizes
    vqa: list[VqaItem] = field(default_factory=list)
    coco: list[CaptionItem] = field(default_factory=list)
    nocaps: list[CaptionItem] = field(default_factory=list)
    flickr: list[CaptionItem] = field(default_factory=list)

    def scenes(self) -> list[Scene]:
        return [i.scene for i in self.vqa] + [i.scene for i in (*self.coco, *self.nocaps, *self.flickr)]

    def signatures(self) -> set[tuple]:
        return {s.signature() for s in self.scenes()}


def plan(seed: int = DEFAULT_SEED, sizes: Sizes = Sizes()) -> Plan:
    """The test sets: in-domain scenes for VQA, COCO and Flickr; in/near/out-domain for NoCaps; all distinct."""
    rng = random.Random(f"minibench:{seed}:test")
    seen: set[tuple] = set()
    ids = rng.sample(range(100_000, 581_930), sizes.vqa_images + sizes.coco_images)  # both live in val2014/
    out = Plan(seed, sizes)
    for image_id, scene in zip(ids, sample_scenes(rng, sizes.vqa_images, "in-domain", seen), strict=False):
        qs = questions(scene, rng, sizes.questions_per_image)
        answers = [human_answers(q, rng) for q in qs]
        out.vqa.append(
            VqaItem(image_id, scene, tuple(qs), tuple(map(tuple, answers)), tuple(majority(a) for a in answers))
        )
    for image_id, scene in zip(
        ids[sizes.vqa_images :], sample_scenes(rng, sizes.coco_images, "in-domain", seen), strict=True
    ):
        out.coco.append(CaptionItem(image_id, scene, tuple(raw_captions(scene, sizes.coco_refs, rng))))
    nocaps = [s for d in DOMAINS for s in sample_scenes(rng, sizes.nocaps_per_domain, d, seen)]
    rng.shuffle(nocaps)  # domains interleaved, so limit=N still covers all three
    for k, scene in enumerate(nocaps):
        oid = "".join(rng.choice("0123456789abcdef") for _ in range(16))
        out.nocaps.append(CaptionItem(k, scene, tuple(raw_captions(scene, sizes.nocaps_refs, rng)), oid))
    flickr_ids = rng.sample(range(10**8, 10**10), sizes.flickr_images)
    for image_id, scene in zip(flickr_ids, sample_scenes(rng, sizes.flickr_images, "in-domain", seen), strict=True):
        out.flickr.append(CaptionItem(image_id, scene, tuple(raw_captions(scene, sizes.flickr_refs, rng))))
    return out


def training_scenes(n: int, seed: int = DEFAULT_SEED, sizes: Sizes = Sizes()) -> list[Scene]:
    """`n` in-domain training scenes, none showing what any test scene shows (same seed and sizes)."""
    exclude = set(plan(seed, sizes).signatures())
    return sample_scenes(random.Random(f"minibench:{seed}:train"), n, "in-domain", exclude)


def _stamp(seed: int, sizes: Sizes) -> dict:
    return {"format_version": FORMAT_VERSION, "seed": seed, "sizes": asdict(sizes), "image_size": IMAGE_SIZE}


def make_minibench(root: str | Path, seed: int = DEFAULT_SEED, sizes: Sizes = Sizes(), force: bool = False) -> Path:
    """Write the four test sets under one data_root (idempotent: kept when its stamp matches).

    Layout (every task finds its files with its default options)::

        v2_OpenEnded_mscoco_val2014_questions.json, v2_mscoco_val2014_annotations.json, val2014/
        coco_karpathy_test.json, coco_karpathy_test_gt.json, dataset_coco.json   (images in val2014/)
        nocaps_val_4500_captions.json, val/<open_images_id>.jpg
        flickr30k_test.json, dataset_flickr30k.json, flickr30k-images/
    """
    root = Path(root)
    stamp_file = root / STAMP
    want = {**_stamp(seed, sizes), "complete": True}
    if not force and stamp_file.is_file() and json.loads(stamp_file.read_text()) == want:
        log.info("minibench %s is up to date", root)
        return root
    if root.exists() and any(root.iterdir()):
        if not stamp_file.is_file():  # never delete a folder this code did not write
            raise ValueError(f"{root} is not empty and holds no {STAMP}: refusing to overwrite it")
        shutil.rmtree(root)
    write_json(stamp_file, {**want, "complete": False})  # claims the folder; a torn build is rebuilt
    p = plan(seed, sizes)
    write_vqav2(root, "val2014", p.vqa)
    write_coco_karpathy(root, p.coco)
    write_nocaps_val(root, p.nocaps)
    write_flickr30k(root, p.flickr)
    write_json(stamp_file, want)  # last
    log.info("minibench written to %s", root)
    return root
    if root.exists():
        shutil.rmtree(root)
    p = plan(seed, sizes)
    write_vqav2(root, "val2014", p.vqa)
    write_coco_karpathy(root, p.coco)
    write_nocaps_val(root, p.nocaps)
    write_flickr30k(root, p.flickr)
    write_json(stamp_file, want)  # last: a half-written folder has no stamp and is rebuilt
    log.info("minibench written to %s", root)
    return root
