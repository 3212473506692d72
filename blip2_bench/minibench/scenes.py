"""Deterministic synthetic scenes (groups of coloured shapes in a 3 x 3 grid) and their rendering."""

from __future__ import annotations

import io
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from PIL import Image, ImageDraw

from .vocab import BACKGROUNDS, COLOURS, COLUMNS, NOVEL_COLOURS, NOVEL_SHAPES, SIZES, TRAIN_COLOURS, TRAIN_SHAPES

IMAGE_SIZE = 48
"""Side of the written images (px); the shipped models run at this size (backend.image_size)."""
_SUPERSAMPLE = 2
JPEG_QUALITY = 90
MAX_OBJECTS = 5


@dataclass(frozen=True)
class Group:
    """`count` identical objects stacked in one column of the grid."""

    shape: str
    colour: str
    size: str
    column: int
    rows: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Scene:
    """What an image shows; `render_seed` only jitters pixels (positions within cells, brightness)."""

    background: str
    groups: tuple[Group, ...]
    """Sorted by column, left to right."""
    domain: str
    render_seed: int

    def signature(self) -> tuple:
        """The scene's content without pixel jitter: two scenes with one signature show the same thing."""
        return (self.background, tuple((g.shape, g.colour, g.size, g.column, g.rows) for g in self.groups))

    @property
    def n_objects(self) -> int:
        return sum(g.count for g in self.groups)

    def shapes(self) -> set[str]:
        return {g.shape for g in self.groups}

    def colours(self) -> set[str]:
        return {g.colour for g in self.groups}


def _palette(domain: str) -> tuple[list[str], list[str], list[str]]:
    """(known shapes, novel shapes, colours for novel shapes) allowed in a domain."""
    known_colours = list(TRAIN_COLOURS)
    novel_colours = known_colours + list(NOVEL_COLOURS)
    return list(TRAIN_SHAPES), list(NOVEL_SHAPES), known_colours if domain == "in-domain" else novel_colours


def sample_scene(rng: random.Random, domain: str = "in-domain") -> Scene:
    """One scene: in-domain uses only training shapes and colours; near-domain mixes in exactly one
    novel group (a novel shape, perhaps in the novel colour); out-domain holds novel groups only."""
    known_shapes, novel_shapes, novel_colours = _palette(domain)
    n_groups = rng.choices((1, 2, 3), weights=(3, 4, 3))[0]
    if domain == "near-domain":
        n_groups = max(n_groups, 2)
    columns = sorted(rng.sample(range(len(COLUMNS)), n_groups))
    novel_slot = rng.randrange(n_groups) if domain == "near-domain" else None
    while True:
        counts = [rng.choices((1, 2, 3), weights=(6, 3, 1))[0] for _ in range(n_groups)]
        if sum(counts) <= MAX_OBJECTS:
            break
    groups, used = [], set()
    for k, (column, count) in enumerate(zip(columns, counts, strict=True)):
        novel = domain == "out-domain" or k == novel_slot
        while True:
            shape = rng.choice(novel_shapes if novel else known_shapes)
            colour = rng.choice(novel_colours if novel else list(TRAIN_COLOURS))
            if (shape, colour) not in used:
                break
        used.add((shape, colour))
        rows = tuple(sorted(rng.sample(range(3), count)))
        groups.append(Group(shape, colour, rng.choice(SIZES), column, rows))
    return Scene(rng.choice(list(BACKGROUNDS)), tuple(groups), domain, rng.randrange(2**31))


def sample_scenes(
    rng: random.Random, n: int, domain: str = "in-domain", exclude: set[tuple] | None = None
) -> list[Scene]:
    """`n` scenes with distinct signatures, none of them in `exclude` (which gains theirs)."""
    seen = exclude if exclude is not None else set()
    out: list[Scene] = []
    while len(out) < n:
        scene = sample_scene(rng, domain)
        if scene.signature() not in seen:
            seen.add(scene.signature())
            out.append(scene)
    return out


def _star(cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    points = []
    for k in range(10):
        radius = r if k % 2 == 0 else r * 0.45
        angle = -math.pi / 2 + k * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, fill: tuple) -> None:
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif shape == "square":
        s = r * 0.9
        draw.rectangle((cx - s, cy - s, cx + s, cy + s), fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx + r, cy + r * 0.85), (cx - r, cy + r * 0.85)], fill=fill)
    elif shape == "star":
        draw.polygon(_star(cx, cy, r * 1.1), fill=fill)
    elif shape == "cross":
        w = r * 0.35
        draw.rectangle((cx - r, cy - w, cx + r, cy + w), fill=fill)
        draw.rectangle((cx - w, cy - r, cx + w, cy + r), fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def render(scene: Scene, size: int = IMAGE_SIZE) -> Image.Image:
    """The scene as an RGB image of `size` x `size` (drawn at 2x, then downsampled)."""
    rng = random.Random(scene.render_seed)
    big = size * _SUPERSAMPLE
    cell = big / 3
    shade = rng.randint(-12, 12)
    background = tuple(min(255, max(0, c + shade)) for c in BACKGROUNDS[scene.background])
    img = Image.new("RGB", (big, big), background)
    draw = ImageDraw.Draw(img)
    for group in scene.groups:
        radius = cell * (0.2 if group.size == "small" else 0.4)
        jitter = cell * (0.5 - 0.42) if group.size == "large" else cell * 0.2
        for row in group.rows:
            cx = (group.column + 0.5) * cell + rng.uniform(-jitter, jitter)
            cy = (row + 0.5) * cell + rng.uniform(-jitter, jitter)
            colour = tuple(min(255, max(0, c + rng.randint(-15, 15))) for c in COLOURS[group.colour])
            _draw_shape(draw, group.shape, cx, cy, radius, colour)
    return img.resize((size, size), Image.Resampling.LANCZOS)


def jpeg_bytes(image: Image.Image) -> bytes:
    """The bytes written to disk; training decodes the same bytes, so it sees exactly the test pixels' kind."""
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def decoded(scene: Scene, size: int = IMAGE_SIZE) -> Image.Image:
    """render -> JPEG -> decode, as a test image reaches the model."""
    return Image.open(io.BytesIO(jpeg_bytes(render(scene, size)))).convert("RGB")


def iter_words(scenes: Iterable[Scene]) -> Iterator[str]:
    """Shape and colour words the scenes show (for the novelty checks)."""
    for scene in scenes:
        for g in scene.groups:
            yield g.shape
            yield g.colour
