"""`blip2-bench make-demo DIR`: tiny BLIP-2 models and VQAv2-format data, all built offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from .caption_fixture import write_caption_fixture
from .retrieval_fixture import write_flickr30k_fixture
from .tiny_models import build_tiny_blip2
from .tiny_retrieval import build_tiny_blip2_retrieval
from .vqav2_fixture import write_vqav2_fixture


def make_demo(root: Path, n_images: int = 8, questions_per_image: int = 3) -> dict[str, Path]:
    """Build what is missing under root: tiny-opt/, tiny-t5/, tiny-itm/, vqav2/, captions/, flickr30k/ (idempotent)."""
    made: dict[str, Path] = {}
    for family in ("opt", "t5"):
        folder = root / f"tiny-{family}"
        if not (folder / "config.json").is_file():
            build_tiny_blip2(folder, family)
        made[f"tiny-{family}"] = folder
    if not (root / "tiny-itm" / "config.json").is_file():
        build_tiny_blip2_retrieval(root / "tiny-itm")
    made["tiny-itm"] = root / "tiny-itm"
    data = root / "vqav2"
    if not (data / "v2_mscoco_val2014_annotations.json").is_file():
        write_vqav2_fixture(data, n_images=n_images, questions_per_image=questions_per_image)
    made["vqav2"] = data
    captions = root / "captions"
    if not (captions / "nocaps" / "nocaps_val_4500_captions.json").is_file():
        write_caption_fixture(captions)
    made["captions"] = captions
    flickr = root / "flickr30k"
    if not (flickr / "flickr30k_test.json").is_file():
        write_flickr30k_fixture(flickr, n_images=n_images)
    made["flickr30k"] = flickr
    return made


def make_demo_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="blip2-bench make-demo", description=__doc__)
    parser.add_argument("root", type=Path, nargs="?", default=Path(".cache/demo"))
    args = parser.parse_args(argv)
    for name, path in make_demo(args.root).items():
        print(f"{name}: {path}")
    return 0
