"""A tiny VQAv2 sample written in the official formats, for offline end-to-end runs.

`write_vqav2_fixture` lays files out exactly as the visualqa.org downloads and COCO
zips do::

    root/v2_OpenEnded_mscoco_val2014_questions.json
    root/v2_mscoco_val2014_annotations.json          (not for test-dev2015)
    root/val2014/COCO_val2014_000000XXXXXX.jpg        (test2015/ for test-dev2015)

The JSON keys (and the "info"/"license" blocks) follow the released v2.0 files. Human
answers are deliberately messy (case, trailing periods, number words vs digits, split
votes) and the images cover the awkward cases of real COCO: RGB, grayscale ("L"), CMYK
JPEGs and a PNG stored under a .jpg name.

`write_vqav2_parquet` writes the same samples with the features of the Hugging Face
dataset ``lmms-lab/VQAv2`` (validation split). Confirmed from that dataset's README
(dataset_info, revision d138befa): question_type string, multiple_choice_answer string,
answers list of {answer string, answer_confidence string, answer_id int64}, image_id
int64, answer_type string, question_id int64, question string, image (Image feature).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

_INFO_COMMON = {
    "description": "This is v2.0 of the VQA dataset.",
    "url": "http://visualqa.org",
    "version": "2.0",
    "year": 2017,
    "contributor": "VQA Team",
}
_LICENSE = {
    "url": "http://creativecommons.org/licenses/by/4.0/",
    "name": "Creative Commons Attribution 4.0 International License",
}
# Image kinds, cycled over the images: "PNG" is PNG bytes under a .jpg name (as in COCO).
IMAGE_KINDS = ("RGB", "L", "CMYK", "PNG")

# (question, question_type, answer_type, ten raw human answers). Messy on purpose: the
# harness must normalise case/punctuation/number words the way the official eval does.
_POOL: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("Is the man wearing a (baseball) hat?", "is the man", "yes/no", ("yes",) * 10),
    (
        "How many people are in the picture?",
        "how many",
        "number",
        ("2", "2", "two", "2", "3", "2", "2 ", "2", "Two", "2"),
    ),
    (
        "What color is the bus?",
        "what color is the",
        "other",
        ("Red", "red", "red.", "red and white", "red", "maroon", "red", "red", "red", "red"),
    ),
    ('Is this a "selfie"?', "is this a", "yes/no", ("no", "no", "yes", "no", "No", "no", "no", "no", "yes", "no")),
    (
        "What's on the plate (besides the fork)?",
        "what is on the",
        "other",
        ("pizza", "pizza", "Pizza", "food", "pizza.", "slice of pizza", "pizza", "pizza", "pizza", "pizza"),
    ),
    ("How many 'zebras' are there?", "how many", "number", ("3", "3", "three", "3", "3", "4", "3", "3", "3", "3")),
    ("Is it raining outside ?", "is it", "yes/no", ("no", "no", "no", "No.", "no", "no", "no", "no", "no", "no")),
    ("What sport is being played (tennis, golf...)?", "what sport is", "other", ("tennis",) * 10),
    (
        'Where is the "cat" sitting?',
        "where is the",
        "other",
        ("on couch", "couch", "sofa", "on the couch", "couch", "on sofa", "couch", "chair", "couch", "on couch"),
    ),
    (
        "WHAT TIME OF DAY IS IT??",
        "what time",
        "other",
        ("daytime", "day", "afternoon", "Daytime", "noon", "day", "day time", "morning", "daytime", "afternoon"),
    ),
    (
        "How many dogs are there in this image?",
        "how many",
        "number",
        ("0", "0", "zero", "none", "0", "0", "0", "0", "1", "0"),
    ),
    (
        "Are the lights on in the  room?",
        "are the",
        "yes/no",
        ("yes", "Yes", "yes", "no", "yes", "yes", "yes", "yes", "yes", "yes"),
    ),
    (
        "what is the boy holding",
        "what is the",
        "other",
        ("kite", "a kite", "kite", "Kite", "kite string", "kite", "string", "kite", "kite", "kite"),
    ),
    (
        "Which side of the road is the car on: left or right?",
        "which",
        "other",
        ("left", "left", "Left", "right", "left", "left side", "left", "left", "right", "left"),
    ),
)


@dataclass(frozen=True)
class VqaFixture:
    """Paths of a written fixture; ``annotations_file`` is None for test-dev2015."""

    root: Path
    questions_file: Path
    annotations_file: Path | None
    image_dir: Path
    question_ids: tuple[int, ...]

    def image_path(self, image_id: int) -> Path:
        """Official COCO file name of ``image_id`` inside ``image_dir``."""
        return self.image_dir / f"COCO_{self.image_dir.name}_{image_id:012d}.jpg"


def _majority(answers: tuple[str, ...]) -> str:
    # The official multiple_choice_answer is the most common (lightly cleaned) answer.
    cleaned = [re.sub(r"[.\s]+$", "", a.strip().lower()) for a in answers]
    return Counter(cleaned).most_common(1)[0][0]


def _draw_image(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    img = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    w, h = size
    for _ in range(4):
        x0, y0 = rng.randrange(w - 8), rng.randrange(h - 8)
        box = (x0, y0, x0 + rng.randrange(6, w // 2), y0 + rng.randrange(6, h // 2))
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    return img


def _save_image(img: Image.Image, kind: str, path: Path) -> None:
    if kind == "PNG":
        img.save(path, format="PNG")  # PNG bytes, .jpg name
    else:
        img.convert(kind).save(path, format="JPEG", quality=90)


def write_vqav2_fixture(
    root: str | Path,
    n_images: int = 4,
    questions_per_image: int = 3,
    seed: int = 0,
    subtype: str = "val2014",
) -> VqaFixture:
    """Write questions, annotations and images in the official VQAv2 layout under ``root``.

    ``question_id = image_id * 1000 + k`` for the k-th question of an image, as in VQAv2.
    Image kinds cycle through ``IMAGE_KINDS``, so ``n_images >= 4`` covers all of them.
    """
    if not 1 <= questions_per_image <= len(_POOL):
        raise ValueError(f"questions_per_image must be in 1..{len(_POOL)}")
    if n_images < 1:
        raise ValueError("n_images must be >= 1")
    has_answers = not subtype.startswith("test")
    folder = "test2015" if subtype.startswith("test") else subtype
    root = Path(root)
    image_dir = root / folder
    image_dir.mkdir(parents=True, exist_ok=True)

    rng = random.Random(seed)
    # COCO-like 6-digit ids (val2014 ids go up to 581929), sorted for stable output.
    image_ids = sorted(rng.sample(range(100_000, 581_930), n_images))
    # Walk one shuffled copy of the pool so consecutive questions are all different.
    order = rng.sample(range(len(_POOL)), len(_POOL))
    questions: list[dict] = []
    annotations: list[dict] = []
    for i, image_id in enumerate(image_ids):
        size = (48 + 4 * i, 40 + 2 * i)  # distinct sizes catch per-image resize bugs
        img = _draw_image(rng, size)
        _save_image(img, IMAGE_KINDS[i % len(IMAGE_KINDS)], image_dir / f"COCO_{folder}_{image_id:012d}.jpg")
        for k in range(questions_per_image):
            question, qtype, atype, raw = _POOL[order[(i * questions_per_image + k) % len(_POOL)]]
            qid = image_id * 1000 + k
            questions.append({"image_id": image_id, "question": question, "question_id": qid})
            confidences = rng.choices(("yes", "maybe", "no"), weights=(8, 2, 1), k=10)
            answers = [
                {"answer": a, "answer_confidence": c, "answer_id": j + 1}
                for j, (a, c) in enumerate(zip(raw, confidences, strict=True))
            ]
            annotations.append(
                {
                    "question_type": qtype,
                    "multiple_choice_answer": _majority(raw),
                    "answers": answers,
                    "image_id": image_id,
                    "answer_type": atype,
                    "question_id": qid,
                }
            )

    questions_file = root / f"v2_OpenEnded_mscoco_{subtype}_questions.json"
    questions_doc = {
        "info": {**_INFO_COMMON, "date_created": "2017-04-26 17:07:13"},
        "task_type": "Open-Ended",
        "data_type": "mscoco",
        "license": _LICENSE,
        "data_subtype": subtype,
        "questions": questions,
    }
    questions_file.write_text(json.dumps(questions_doc))
    annotations_file = None
    if has_answers:
        annotations_file = root / f"v2_mscoco_{subtype}_annotations.json"
        annotations_doc = {
            "info": {**_INFO_COMMON, "date_created": "2017-04-26 17:00:44"},
            "license": _LICENSE,
            "data_subtype": subtype,
            "annotations": annotations,
            "data_type": "mscoco",
        }
        annotations_file.write_text(json.dumps(annotations_doc))
    return VqaFixture(
        root=root,
        questions_file=questions_file,
        annotations_file=annotations_file,
        image_dir=image_dir,
        question_ids=tuple(q["question_id"] for q in questions),
    )


def write_vqav2_parquet(fixture: VqaFixture, out_file: str | Path) -> Path:
    """Write ``fixture``'s samples as a parquet file with ``lmms-lab/VQAv2``'s features.

    Load it with ``datasets.load_dataset("parquet", data_files=str(path), split="train")``.
    """
    import datasets  # heavy; only needed here

    if fixture.annotations_file is None:
        raise ValueError("lmms-lab/VQAv2 rows carry answers; a test-dev fixture has none")
    questions = json.loads(fixture.questions_file.read_text())["questions"]
    annotations = {a["question_id"]: a for a in json.loads(fixture.annotations_file.read_text())["annotations"]}
    rows = []
    for q in questions:
        ann = annotations[q["question_id"]]
        image_path = fixture.image_path(q["image_id"])
        rows.append(
            {
                **{k: ann[k] for k in ("question_type", "multiple_choice_answer", "answers", "image_id")},
                "answer_type": ann["answer_type"],
                "question_id": q["question_id"],
                "question": q["question"],
                # Raw file bytes, so the PNG-in-.jpg and CMYK cases survive the round trip.
                "image": {"bytes": image_path.read_bytes(), "path": image_path.name},
            }
        )
    features = datasets.Features(
        {
            "question_type": datasets.Value("string"),
            "multiple_choice_answer": datasets.Value("string"),
            "answers": datasets.List(
                {
                    "answer": datasets.Value("string"),
                    "answer_confidence": datasets.Value("string"),
                    "answer_id": datasets.Value("int64"),
                }
            ),
            "image_id": datasets.Value("int64"),
            "answer_type": datasets.Value("string"),
            "question_id": datasets.Value("int64"),
            "question": datasets.Value("string"),
            "image": datasets.Image(),
        }
    )
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows, features=features).to_parquet(str(out))
    return out
