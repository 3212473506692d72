"""The closed world of the mini benchmark: shapes, colours, sizes, columns, backgrounds and which are novel."""

from __future__ import annotations

# Seen in training (and in the in-domain test images).
TRAIN_SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
TRAIN_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (50, 80, 235),
    "yellow": (240, 210, 30),
}
# Never in a training image, question or caption: the NoCaps-style novel objects and attribute.
NOVEL_SHAPES: tuple[str, ...] = ("star", "cross")
NOVEL_COLOURS: dict[str, tuple[int, int, int]] = {"purple": (150, 50, 200)}

SHAPES: tuple[str, ...] = TRAIN_SHAPES + NOVEL_SHAPES
COLOURS: dict[str, tuple[int, int, int]] = {**TRAIN_COLOURS, **NOVEL_COLOURS}
PLURALS: dict[str, str] = {
    "circle": "circles",
    "square": "squares",
    "triangle": "triangles",
    "star": "stars",
    "cross": "crosses",
}
SIZES: tuple[str, ...] = ("small", "large")
SIZE_SYNONYMS: dict[str, str] = {"small": "little", "large": "big"}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (25, 25, 25),
    "gray": (128, 128, 128),
    "white": (235, 235, 235),
}
# Each group of identical objects sits in one column of a 3 x 3 grid, so every group has a place.
COLUMNS: tuple[str, ...] = ("left", "middle", "right")
COLUMN_PHRASES: dict[str, str] = {"left": "on the left", "middle": "in the middle", "right": "on the right"}
NUMBER_WORDS: dict[int, str] = {0: "zero", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
DOMAINS: tuple[str, ...] = ("in-domain", "near-domain", "out-domain")

# Words of the prompts the harness sends (tasks/vqav2.py, blip2_bench/captioning.py).
PROMPT_WORDS: tuple[str, ...] = ("Question", "Answer", "Short", "answer", "a", "photo", "of")


def all_words() -> list[str]:
    """Every word a question, answer, caption or prompt of the benchmark can contain (novel ones too)."""
    words: list[str] = list(PROMPT_WORDS)
    words += [*SHAPES, *PLURALS.values(), *COLOURS, *SIZES, *SIZE_SYNONYMS.values(), *BACKGROUNDS, *COLUMNS]
    words += [w for p in COLUMN_PHRASES.values() for w in p.split()]
    words += [*NUMBER_WORDS.values(), *(str(n) for n in NUMBER_WORDS)]
    words += (
        "is there are any in the image picture how many shapes shape what color size where object objects "
        "background yes no an and with on showing there's it this one big little"
    ).split()
    return list(dict.fromkeys(words))
