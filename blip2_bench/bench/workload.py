"""A VQAv2-shaped workload written to disk: images as JPEG files, several questions per image."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image

from ..types import GenerationRequest, GenerationSettings, ImageSource

WORDS = "what color is the shape on left right middle how many are there which kind of object picture".split()


def make_workload(
    root: Path,
    n_images: int,
    per_image: int,
    settings: GenerationSettings,
    template: str = "Question: {} Answer:",
    seed: int = 0,
    size: tuple[int, int] = (640, 480),
) -> list[GenerationRequest]:
    """`n_images` COCO-sized JPEGs and `per_image` questions each, in shuffled order (as VQAv2's
    question file interleaves images), prompts in the family's template."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    requests = []
    for k in range(n_images):
        path = root / f"{k:06d}.jpg"
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))  # drawn even when cached:
        if not path.is_file():  # the same seed gives the same questions on a second run
            Image.new("RGB", size, colour).save(path, quality=90)
        for q in range(per_image):
            question = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9))) + "?"
            prompt = template.format(question)
            requests.append(GenerationRequest(f"{k}-{q}", ImageSource(f"img{k}", path=str(path)), prompt, settings))
    rng.shuffle(requests)
    return requests
