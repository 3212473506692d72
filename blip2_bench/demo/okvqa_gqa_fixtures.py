"""Tiny OK-VQA v1.1 and GQA (balanced test-dev) samples in the official file formats.

`write_okvqa_fixture` writes what okvqa.allenai.org and COCO ship::

    root/OpenEnded_mscoco_val2014_questions.json   (no "v2_" prefix: VQA v1's names)
    root/mscoco_val2014_annotations.json
    root/val2014/COCO_val2014_000000XXXXXX.jpg

with OK-VQA's quirks: each question's five annotator answers listed twice (answer_id 1..10),
``raw_answer`` beside the stemmed ``answer`` (v1.1: "racing" -> "race"), confidences "yes"/"no",
``answer_type`` "other", ``question_type`` a knowledge category ("one".."ten", "other"), a
``question_types`` table and a per-question ``confidence``.

`write_gqa_fixture` writes what the GQA downloads (questions1.2.zip, images.zip) unpack to::

    root/testdev_balanced_questions.json   (one object keyed by questionId strings)
    root/images/<imageId>.jpg               (test-dev image ids look like "n161313")

with every field of a real record (semantic program, types, groups, entailed, annotations,
fullAnswer), one question id with a leading zero, and answers normalization changes
("t-shirt"). Images cycle through RGB, grayscale, CMYK and PNG bytes under a .jpg name.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

_LICENSE = {
    "url": "http://creativecommons.org/licenses/by/4.0/",
    "name": "Creative Commons Attribution 4.0 International License",
}
_OKVQA_INFO = {"year": 2019, "version": "1.0", "description": "This is v1.0 of the OK-VQA dataset."}
_OKVQA_TYPES = {
    "eight": "Plants and Animals",
    "nine": "Science and Technology",
    "four": "Sports and Recreation",
    "six": "Geography, History, Language and Culture",
    "two": "Brands, Companies and Products",
    "other": "Other",
    "one": "Vehicles and Transportation",
    "five": "Cooking and Food",
    "ten": "Weather and Climate",
    "seven": "People and Everyday life",
    "three": "Objects, Material and Clothing",
}
IMAGE_KINDS = ("RGB", "L", "CMYK", "PNG")

# (question, category, five raw answers, the same five stemmed as OK-VQA v1.1 stores them).
_OKVQA_POOL: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "What sport can you use this for?",
        "four",
        ("racing", "race", "motocross", "Racing", "riding"),
        ("race", "race", "motocross", "race", "ride"),
    ),
    (
        "What are these animals called?",
        "eight",
        ("zebras", "zebra", "zebras", "horses", "zebra"),
        ("zebra", "zebra", "zebra", "horse", "zebra"),
    ),
    (
        "What brand is this phone?",
        "two",
        ("Apple", "apple", "iphone", "apple", "samsung"),
        ("apple", "apple", "iphone", "apple", "samsung"),
    ),
    (
        "What kind of weather is this?",
        "ten",
        ("raining", "rainy", "rain", "raining", "cloudy"),
        ("rain", "rainy", "rain", "rain", "cloudy"),
    ),
    (
        "What are the people doing?",
        "seven",
        ("skiing", "skiing", "skiing", "snowboarding", "sking"),
        ("ski", "ski", "ski", "snowboard", "sking"),
    ),
    (
        "What is the man wearing on his head?",
        "three",
        ("helmets", "helmet", "hard hat", "helmet", "hat"),
        ("helmet", "helmet", "hard hat", "helmet", "hat"),
    ),
    ("What meal is this?", "five", ("breakfast",) * 5, ("breakfast",) * 5),
    (
        "What is this vehicle used for?",
        "one",
        ("transporting people", "transportation", "commuting", "transportation", "travel"),
        ("transport people", "transportation", "commute", "transportation", "travel"),
    ),
    (
        "Which country is this sign from?",
        "six",
        ("usa", "united states", "america", "usa", "USA"),
        ("usa", "united states", "america", "usa", "usa"),
    ),
    (
        "Who invented this device?",
        "nine",
        ("thomas edison", "edison", "edison", "alexander graham bell", "Thomas Edison"),
        ("thomas edison", "edison", "edison", "alexander graham bell", "thomas edison"),
    ),
    (
        "What is the name of this toy?",
        "other",
        ("teddy bear", "teddy bear", "bear", "teddy", "teddy bears"),
        ("teddy bear", "teddy bear", "bear", "teddy", "teddy bear"),
    ),
)

# (question, answer, structural, semantic, detailed, semantic program as (operation, argument)).
_GQA_POOL: tuple[tuple[str, str, str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("Is the sky blue?", "yes", "verify", "attr", "verifyAttr", (("select", "sky (7)"), ("verify color", "blue"))),
    ("What color is the shirt?", "white", "query", "attr", "queryAttr", (("select", "shirt (12)"), ("query", "color"))),
    (
        "What is the man wearing?",
        "t-shirt",
        "query",
        "rel",
        "relS",
        (("select", "man (3)"), ("relate", "_,wearing,o (12)"), ("query", "name")),
    ),
    (
        "Is the cup on the left or on the right?",
        "left",
        "choose",
        "rel",
        "positionChoose",
        (("select", "cup (5)"), ("choose hposition", "left|right")),
    ),
    (
        "Are there both cars and trucks in the picture?",
        "no",
        "logical",
        "obj",
        "logicAnd",
        (("select", "car"), ("exist", "?"), ("select", "truck"), ("exist", "?"), ("and", "")),
    ),
    (
        "Do the chair and the table have the same color?",
        "yes",
        "compare",
        "attr",
        "sameColor",
        (("select", "chair (8)"), ("select", "table (9)"), ("same color", "")),
    ),
    ("Is there a dog?", "no", "verify", "obj", "existC", (("select", "dog"), ("exist", "?"))),
    (
        "Which kind of furniture is this?",
        "table",
        "query",
        "cat",
        "categoryThat",
        (("select", "furniture (9)"), ("query", "name")),
    ),
    ("What place is this?", "kitchen", "query", "global", "place", (("select", "scene"), ("query", "place"))),
    (
        "Who is wearing the hat?",
        "woman",
        "query",
        "rel",
        "relS",
        (("select", "hat (4)"), ("relate", "person,wearing,s (2)"), ("query", "name")),
    ),
)


@dataclass(frozen=True)
class OkvqaFixture:
    root: Path
    questions_file: Path
    annotations_file: Path
    image_dir: Path
    question_ids: tuple[int, ...]


@dataclass(frozen=True)
class GqaFixture:
    root: Path
    questions_file: Path
    image_dir: Path
    question_ids: tuple[str, ...]
    answers: dict[str, str]


def _write_image(rng: random.Random, index: int, path: Path) -> None:
    size = (44 + 4 * index, 36 + 2 * index)  # distinct sizes catch per-image resize bugs
    img = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(3):
        x0, y0 = rng.randrange(size[0] - 8), rng.randrange(size[1] - 8)
        box = (x0, y0, x0 + rng.randrange(6, size[0] // 2), y0 + rng.randrange(6, size[1] // 2))
        draw.rectangle(box, fill=tuple(rng.randrange(256) for _ in range(3)))
    kind = IMAGE_KINDS[index % len(IMAGE_KINDS)]
    if kind == "PNG":
        img.save(path, format="PNG")  # PNG bytes under a .jpg name, as some real files are
    else:
        img.convert(kind).save(path, format="JPEG", quality=90)


def write_okvqa_fixture(
    root: str | Path, n_images: int = 4, questions_per_image: int = 2, seed: int = 0
) -> OkvqaFixture:
    """OK-VQA val2014 questions, annotations and COCO images under `root` (question ids are
    ``image_id * 10 + k``)."""
    if not 1 <= questions_per_image <= len(_OKVQA_POOL) or n_images < 1:
        raise ValueError(f"need n_images >= 1 and questions_per_image in 1..{len(_OKVQA_POOL)}")
    root = Path(root)
    image_dir = root / "val2014"
    image_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    image_ids = sorted(rng.sample(range(100_000, 581_930), n_images))
    questions, annotations = [], []
    for i, image_id in enumerate(image_ids):
        _write_image(rng, i, image_dir / f"COCO_val2014_{image_id:012d}.jpg")
        for k in range(questions_per_image):
            question, category, raw, stemmed = _OKVQA_POOL[(i * questions_per_image + k) % len(_OKVQA_POOL)]
            qid = image_id * 10 + k
            questions.append({"image_id": image_id, "question": question, "question_id": qid})
            answers = []
            for j in range(10):  # five annotators, each answer listed twice
                answers.append(
                    {
                        "answer_id": j + 1,
                        "raw_answer": raw[j // 2],
                        "answer_confidence": "yes" if rng.random() < 0.9 else "no",
                        "answer": stemmed[j // 2],
                    }
                )
            annotations.append(
                {
                    "image_id": image_id,
                    "answer_type": "other",
                    "question_type": category,
                    "question_id": qid,
                    "answers": answers,
                    "confidence": rng.choice((2, 3, 4, 5)),
                }
            )
    questions_file = root / "OpenEnded_mscoco_val2014_questions.json"
    questions_file.write_text(
        json.dumps(
            {
                "license": _LICENSE,
                "data_subtype": "val2014",
                "questions": questions,
                "task_type": "Open-Ended",
                "info": _OKVQA_INFO,
                "data_type": "mscoco",
            }
        )
    )
    annotations_file = root / "mscoco_val2014_annotations.json"
    annotations_file.write_text(
        json.dumps(
            {
                "license": _LICENSE,
                "data_subtype": "val2014",
                "question_types": _OKVQA_TYPES,
                "annotations": annotations,
                "info": _OKVQA_INFO,
                "data_type": "mscoco",
            }
        )
    )
    return OkvqaFixture(root, questions_file, annotations_file, image_dir, tuple(q["question_id"] for q in questions))


def _gqa_record(qid: str, image_id: str, entry: tuple, sibling: str) -> dict:
    question, answer, structural, semantic, detailed, program = entry
    ops = [
        {"operation": op, "dependencies": list(range(max(0, k - 1), k)), "argument": arg}
        for k, (op, arg) in enumerate(program)
    ]
    return {
        "semantic": ops,
        "entailed": [sibling],
        "equivalent": [qid],
        "question": question,
        "imageId": image_id,
        "isBalanced": True,
        "groups": {"global": None if structural != "query" else detailed, "local": f"{len(ops)}-{detailed}"},
        "answer": answer,
        "semanticStr": "->".join(f"{op}: {arg}" for op, arg in program),
        "annotations": {"answer": {}, "question": {"2": "12"}, "fullAnswer": {}},
        "types": {"detailed": detailed, "semantic": semantic, "structural": structural},
        "fullAnswer": f"The answer is {answer}.",
    }


def write_gqa_fixture(root: str | Path, n_images: int = 4, questions_per_image: int = 3, seed: int = 0) -> GqaFixture:
    """GQA balanced test-dev questions and images under `root`."""
    if not 1 <= questions_per_image <= len(_GQA_POOL) or n_images < 1:
        raise ValueError(f"need n_images >= 1 and questions_per_image in 1..{len(_GQA_POOL)}")
    root = Path(root)
    image_dir = root / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed + 1)
    image_ids = [f"n{n}" for n in sorted(rng.sample(range(10_000, 600_000), n_images))]
    doc: dict[str, dict] = {}
    for i, image_id in enumerate(image_ids):
        _write_image(rng, i, image_dir / f"{image_id}.jpg")
        for k in range(questions_per_image):
            n = i * questions_per_image + k
            qid = f"{20_968_135 + 7 * n}" if n else "0201307251"  # ids are strings; some start with 0
            entry = _GQA_POOL[n % len(_GQA_POOL)]
            doc[qid] = _gqa_record(qid, image_id, entry, sibling=f"{30_000_000 + n}")
    questions_file = root / "testdev_balanced_questions.json"
    questions_file.write_text(json.dumps(doc))
    return GqaFixture(root, questions_file, image_dir, tuple(doc), {q: r["answer"] for q, r in doc.items()})


@dataclass(frozen=True)
class _Token:
    text: str
    lemma_: str
    pos_: str


class TinyLemmaPipeline:
    """A stand-in for ``spacy.load("en_core_web_sm")`` where spaCy is not installed (tests, demos).

    Callable on a text, it yields tokens with ``text``, ``lemma_`` and ``pos_`` as a spaCy ``Doc``
    does: words split off at ``-``, ``,``, ``.``, ``!``, ``?`` and ``n't``, and a small lexicon of
    tags and lemmas (unknown words are ``X`` and keep their text). It is not spaCy: it exists so
    the code that applies LAVIS's rule to a pipeline's tokens can run everywhere.
    """

    LEXICON: dict[str, tuple[str, str]] = {
        "racing": ("VERB", "race"),
        "riding": ("VERB", "ride"),
        "running": ("VERB", "run"),
        "skiing": ("VERB", "ski"),
        "raining": ("VERB", "rain"),
        "zebras": ("NOUN", "zebra"),
        "horses": ("NOUN", "horse"),
        "helmets": ("NOUN", "helmet"),
        "shirts": ("NOUN", "shirt"),
        "dogs": ("NOUN", "dog"),
        "people": ("NOUN", "people"),
        "are": ("AUX", "be"),
        "is": ("AUX", "be"),
        "do": ("AUX", "do"),
        "n't": ("PART", "not"),
        "the": ("DET", "the"),
        "a": ("DET", "a"),
        "red": ("ADJ", "red"),
        "two": ("NUM", "two"),
        "-": ("PUNCT", "-"),
        ",": ("PUNCT", ","),
        ".": ("PUNCT", "."),
    }

    def __call__(self, text: str) -> list[_Token]:
        tokens = []
        for word in text.split():
            for piece in re.findall(r"n't|[-,.!?]|[^-,.!?]+?(?=n't|[-,.!?]|$)", word):
                pos, lemma = self.LEXICON.get(piece.lower(), ("X", piece))
                tokens.append(_Token(piece, lemma, pos))
        return tokens
