"""What people say about a scene: reference captions (clean and raw) and VQA questions with 10 human answers."""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass

from .scenes import Group, Scene
from .vocab import (
    BACKGROUNDS,
    COLUMN_PHRASES,
    COLUMNS,
    NUMBER_WORDS,
    PLURALS,
    SIZE_SYNONYMS,
    SIZES,
    TRAIN_COLOURS,
    TRAIN_SHAPES,
)

N_TEMPLATES = 5


def _phrase(g: Group, size: str | None) -> str:
    number = "a" if g.count == 1 else NUMBER_WORDS[g.count]
    noun = g.shape if g.count == 1 else PLURALS[g.shape]
    return " ".join(w for w in (number, size, g.colour, noun) if w)


def _size(g: Group, synonym: bool) -> str:
    return SIZE_SYNONYMS[g.size] if synonym else g.size


def _where(g: Group) -> str:
    return COLUMN_PHRASES[COLUMNS[g.column]]


def caption(scene: Scene, template: int, synonym: bool = False) -> str:
    """One clean caption (lowercase words, no punctuation), at least 8 and at most 30 words."""
    gs, bg = scene.groups, scene.background
    if template == 0:  # the canonical form
        return " and ".join(f"{_phrase(g, _size(g, synonym))} {_where(g)}" for g in gs) + f" on a {bg} background"
    if template == 1:
        return f"a {bg} background with " + " and ".join(f"{_phrase(g, _size(g, not synonym))} {_where(g)}" for g in gs)
    if template == 2:
        lead = "a picture of" if synonym else "a picture showing"
        return f"{lead} " + " and ".join(_phrase(g, None) for g in gs) + f" on a {bg} background"
    if template == 3:
        return "an image of " + " and ".join(f"{_phrase(g, _size(g, synonym))} {_where(g)}" for g in gs)
    if template == 4:
        return f"a {bg} image with " + " and ".join(_phrase(g, _size(g, not synonym)) for g in gs)
    raise ValueError(f"template must be in 0..{N_TEMPLATES - 1}")


def clean_captions(scene: Scene, n: int) -> list[str]:
    """`n` clean references: the templates in order, then their synonym twins."""
    forms = [caption(scene, t, False) for t in range(N_TEMPLATES)] + [
        caption(scene, t, True) for t in range(N_TEMPLATES)
    ]
    return forms[:n]


def _messy(text: str, rng: random.Random) -> str:
    """A raw human caption: capitalised, a period or not, stray spaces (the PTB tokenizer undoes all of it)."""
    kind = rng.randrange(5)
    if kind == 0:
        return text[0].upper() + text[1:] + "."
    if kind == 1:
        return text[0].upper() + text[1:]
    if kind == 2:
        return text + " "
    if kind == 3:
        return text.replace(" ", "  ", 1) + "."
    return text


def raw_captions(scene: Scene, n: int, rng: random.Random) -> list[str]:
    return [_messy(c, rng) for c in clean_captions(scene, n)]


def training_caption(scene: Scene, rng: random.Random) -> str:
    """A training target: the canonical caption half of the time, else any reference form."""
    if rng.random() < 0.5:
        return caption(scene, 0)
    return caption(scene, rng.randrange(N_TEMPLATES), rng.random() < 0.5)


# --- VQA --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    text: str
    question_type: str
    answer_type: str
    answer: str
    """The canonical answer (digits for numbers)."""
    confusions: tuple[str, ...]
    """What a careless annotator says instead."""


def _others(value: str, pool: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v for v in pool if v != value)


def _yes_no(text: str, qtype: str, truth: bool) -> Question:
    return Question(text, qtype, "yes/no", "yes" if truth else "no", ("no",) if truth else ("yes",))


def _number(text: str, n: int) -> Question:
    return Question(text, "how many", "number", str(n), tuple(str(m) for m in (n - 1, n + 1) if m >= 0))


def _candidates(scene: Scene, rng: random.Random) -> list[Question]:
    """Every question this generator can ask about the scene (in a fixed order for a given rng state)."""
    gs, qs = scene.groups, []
    shapes = Counter(g.shape for g in gs for _ in g.rows)
    colours = Counter(g.colour for g in gs for _ in g.rows)
    present = {(g.colour, g.shape) for g in gs}
    g = rng.choice(gs)
    if rng.random() < 0.5:
        qs.append(_yes_no(f"Is there a {g.colour} {g.shape} in the image?", "is there a", True))
    else:
        absent = [(c, s) for c in TRAIN_COLOURS for s in TRAIN_SHAPES if (c, s) not in present]
        c, s = rng.choice(absent)
        qs.append(_yes_no(f"Is there a {c} {s} in the image?", "is there a", False))
    s = rng.choice(list(TRAIN_SHAPES))
    qs.append(_yes_no(f"Are there any {PLURALS[s]}?", "are there any", s in shapes))
    g = rng.choice(gs)
    column = rng.randrange(3)
    noun = f"{g.colour} {g.shape}" if g.count == 1 else f"{g.colour} {PLURALS[g.shape]}"
    verb = "Is" if g.count == 1 else "Are"
    qs.append(
        _yes_no(f"{verb} the {noun} {COLUMN_PHRASES[COLUMNS[column]]}?", verb.lower() + " the", g.column == column)
    )
    bg = rng.choice(list(BACKGROUNDS))
    qs.append(_yes_no(f"Is the background {bg}?", "is the", bg == scene.background))
    s = rng.choice([*shapes, rng.choice(TRAIN_SHAPES)])
    qs.append(_number(f"How many {PLURALS[s]} are there?", shapes.get(s, 0)))
    qs.append(_number("How many shapes are in the picture?", scene.n_objects))
    c = rng.choice(list(colours))
    qs.append(_number(f"How many {c} shapes are there?", colours[c]))
    for g in gs:
        noun = g.shape if g.count == 1 else PLURALS[g.shape]
        verb = "is" if g.count == 1 else "are"
        if sum(h.shape == g.shape for h in gs) == 1:
            qs.append(
                Question(
                    f"What color {verb} the {noun}?",
                    f"what color {verb} the",
                    "other",
                    g.colour,
                    _others(g.colour, list(TRAIN_COLOURS)),
                )
            )
        if sum(h.colour == g.colour for h in gs) == 1 and g.count == 1:
            qs.append(
                Question(
                    f"What shape is the {g.colour} object?",
                    "what shape is the",
                    "other",
                    g.shape,
                    _others(g.shape, TRAIN_SHAPES),
                )
            )
        full = f"{g.colour} {noun}"
        col = COLUMNS[g.column]
        qs.append(Question(f"Where {verb} the {full}?", f"where {verb} the", "other", col, _others(col, COLUMNS)))
        qs.append(
            Question(f"What size {verb} the {full}?", f"what size {verb} the", "other", g.size, _others(g.size, SIZES))
        )
    qs.append(
        Question(
            "What color is the background?",
            "what color is the",
            "other",
            scene.background,
            _others(scene.background, list(BACKGROUNDS)),
        )
    )
    return qs


_TYPE_WEIGHTS = {"yes/no": 0.38, "number": 0.30, "other": 0.32}


def questions(scene: Scene, rng: random.Random, k: int) -> list[Question]:
    """`k` distinct questions about the scene, answer types drawn in VQAv2-like proportions."""
    pool = _candidates(scene, rng)
    chosen: list[Question] = []
    while len(chosen) < k and pool:
        kind = rng.choices(list(_TYPE_WEIGHTS), weights=list(_TYPE_WEIGHTS.values()))[0]
        options = [q for q in pool if q.answer_type == kind] or pool
        q = rng.choice(options)
        pool = [p for p in pool if p.text != q.text]
        chosen.append(q)
    return chosen


def _surface(answer: str, answer_type: str, rng: random.Random) -> str:
    """How one annotator types the right answer: number words, case, a period, 'on the left'."""
    r = rng.random()
    if answer_type == "number" and r < 0.2:
        word = NUMBER_WORDS[int(answer)]
        return word.capitalize() if r < 0.05 else word
    if answer in COLUMNS and r < 0.15:
        return "on the left" if answer == "left" else f"{answer} side"
    if r < 0.08:
        return answer.capitalize()
    if r < 0.13:
        return answer + "."
    return answer


def human_answers(q: Question, rng: random.Random) -> list[str]:
    """Ten raw answers: most right (in varied surface forms), some confused, per-question difficulty."""
    reliability = rng.uniform(0.8, 1.0)
    out = []
    for _ in range(10):
        if rng.random() < reliability or not q.confusions:
            out.append(_surface(q.answer, q.answer_type, rng))
        else:
            out.append(rng.choice(q.confusions))
    return out


def majority(answers: list[str]) -> str:
    """VQAv2's multiple_choice_answer: the most common (lightly cleaned) answer."""
    cleaned = [re.sub(r"[.\s]+$", "", a.strip().lower()) for a in answers]
    return Counter(cleaned).most_common(1)[0][0]
