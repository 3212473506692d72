"""OK-VQA v1.1 loader: the official okvqa.allenai.org questions and annotations files, checked.

The files keep the VQA layout, with their own quirks (README "OK-VQA"): names without VQAv2's
``v2_`` prefix (the very names VQA v1 used), human answers that carry both the annotator's
``raw_answer`` and a stemmed ``answer`` (v1.1: "riding" -> "ride", "clothes" -> "cloth"; the
stemmed one is what the VQA evaluation compares), five answers per question each listed twice
(answer_id 1..10), ``answer_confidence`` only "yes"/"no", ``answer_type`` always "other", and
``question_type`` a knowledge category ("one".."ten", "other") instead of the question's first
words. The samples are blip2_bench.data.vqav2.VqaSample, so the VQA metric reads them unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from ..types import ImageSource
from .json_files import read_json, require_keys, require_list, require_type
from .vqav2 import VqaSample, coco_image_path

QUESTIONS_FILE = "OpenEnded_mscoco_{subtype}_questions.json"
ANNOTATIONS_FILE = "mscoco_{subtype}_annotations.json"
SUBTYPES = ("val2014", "train2014")
"""OK-VQA has these two; val2014 (5,046 questions) is the set papers report as OK-VQA "test"."""

CATEGORIES: dict[str, tuple[str, str]] = {
    "one": ("VT", "Vehicles and Transportation"),
    "two": ("BCP", "Brands, Companies and Products"),
    "three": ("OMC", "Objects, Material and Clothing"),
    "four": ("SR", "Sports and Recreation"),
    "five": ("CF", "Cooking and Food"),
    "six": ("GHLC", "Geography, History, Language and Culture"),
    "seven": ("PEL", "People and Everyday life"),
    "eight": ("PA", "Plants and Animals"),
    "nine": ("ST", "Science and Technology"),
    "ten": ("WC", "Weather and Climate"),
    "other": ("Other", "Other"),
}
"""question_type code -> (the OK-VQA paper's abbreviation, the file's own name in `question_types`)."""


@dataclass(frozen=True)
class OkvqaFiles:
    subtype: str
    samples: list[VqaSample]
    raw_answers: dict[int, tuple[str, ...]]
    """question_id -> the annotators' raw answers (recorded per sample; never scored)."""


def _another_dataset_hint(doc: Mapping[str, Any]) -> str | None:
    info = doc.get("info")
    description = info.get("description") if isinstance(info, Mapping) else None
    if isinstance(description, str) and "VQA" in description and "OK-VQA" not in description:
        return description
    return None


def _read_questions(path: Path, limit: int | None) -> tuple[str, list[tuple[int, int, str]], set[int]]:
    doc = require_keys(read_json(path, "OK-VQA questions file"), ["questions"], path, "top level")
    hint = _another_dataset_hint(doc)
    if hint is not None:
        raise BadInputError(f"{path}: not an OK-VQA questions file (info.description: {hint!r})")
    subtype = doc.get("data_subtype", "val2014")
    if subtype not in SUBTYPES:
        raise BadInputError(f"{path}: not an OK-VQA questions file: data_subtype {subtype!r} (OK-VQA has {SUBTYPES})")
    records = require_list(doc["questions"], path, "'questions'")
    if not records:
        raise BadInputError(f"{path}: 'questions' is empty")
    questions: list[tuple[int, int, str]] = []
    seen: set[int] = set()
    for i, q in enumerate(records):
        where = f"questions[{i}]"
        require_keys(q, ["image_id", "question", "question_id"], path, where)
        qid = require_type(q["question_id"], int, path, f"{where}.question_id")
        image_id = require_type(q["image_id"], int, path, f"{where}.image_id")
        text = require_type(q["question"], str, path, f"{where}.question")
        if qid in seen:
            raise BadInputError(f"{path}: {where}: duplicate question_id {qid}")
        seen.add(qid)
        if limit is None or len(questions) < limit:
            questions.append((qid, image_id, text))
    return subtype, questions, seen


@dataclass(frozen=True)
class _Annotation:
    image_id: int
    answers: tuple[str, ...]
    raw_answers: tuple[str, ...]
    answer_type: str
    question_type: str


def _read_annotations(path: Path) -> tuple[str | None, dict[int, _Annotation]]:
    doc = require_keys(read_json(path, "OK-VQA annotations file"), ["annotations"], path, "top level")
    hint = _another_dataset_hint(doc)
    if hint is not None:
        raise BadInputError(f"{path}: not an OK-VQA annotations file (info.description: {hint!r})")
    by_id: dict[int, _Annotation] = {}
    for i, ann in enumerate(require_list(doc["annotations"], path, "'annotations'")):
        where = f"annotations[{i}]"
        require_keys(ann, ["question_id", "image_id", "answers", "answer_type", "question_type"], path, where)
        qid = require_type(ann["question_id"], int, path, f"{where}.question_id")
        if qid in by_id:
            raise BadInputError(f"{path}: {where}: duplicate question_id {qid}")
        question_type = require_type(ann["question_type"], str, path, f"{where}.question_type")
        if question_type not in CATEGORIES:
            raise BadInputError(
                f"{path}: {where}: not an OK-VQA annotations file: question_type {question_type!r} is not an "
                f"OK-VQA knowledge category ({', '.join(CATEGORIES)}); VQA v1/v2 files use the question's first words"
            )
        answers = require_list(ann["answers"], path, f"{where}.answers")
        if not answers:
            raise BadInputError(f"{path}: {where}: no human answers")
        stemmed, raw = [], []
        for j, a in enumerate(answers):
            require_keys(a, ["answer"], path, f"{where}.answers[{j}]")
            if "raw_answer" not in a:
                raise BadInputError(
                    f"{path}: {where}.answers[{j}] lacks 'raw_answer': not an OK-VQA v1.1 annotations file "
                    "(v1.1 keeps each annotator's raw answer beside the stemmed one; VQA v1/v2 files have none)"
                )
            stemmed.append(require_type(a["answer"], str, path, f"{where}.answers[{j}].answer"))
            raw.append(require_type(a["raw_answer"], str, path, f"{where}.answers[{j}].raw_answer"))
        image_id = require_type(ann["image_id"], int, path, f"{where}.image_id")
        answer_type = require_type(ann["answer_type"], str, path, f"{where}.answer_type")
        by_id[qid] = _Annotation(image_id, tuple(stemmed), tuple(raw), answer_type, question_type)
    if not by_id:
        raise BadInputError(f"{path}: 'annotations' is empty")
    subtype = doc.get("data_subtype")
    return (subtype if isinstance(subtype, str) else None), by_id


def load_okvqa(questions_file: Path, annotations_file: Path, image_dir: Path, limit: int | None = None) -> OkvqaFiles:
    """The questions in file order (the first `limit`), each with its annotation, checked.

    Both files must hold the same question ids (the VQA evaluation LAVIS runs takes its question
    set from the annotations and refuses results that do not cover it).
    """
    subtype, questions, all_ids = _read_questions(questions_file, limit)
    ann_subtype, annotations = _read_annotations(annotations_file)
    if ann_subtype is not None and ann_subtype != subtype:
        raise BadInputError(
            f"{annotations_file}: data_subtype {ann_subtype!r}, but {questions_file} is {subtype!r} "
            "(files of two splits)"
        )
    extra = [qid for qid in annotations if qid not in all_ids]
    if extra:
        raise BadInputError(
            f"{annotations_file}: {len(extra)} annotation(s) for questions not in {questions_file} "
            f"(e.g. question_id {extra[0]}): the two files do not belong together"
        )
    samples: list[VqaSample] = []
    raw_answers: dict[int, tuple[str, ...]] = {}
    for i, (qid, image_id, text) in enumerate(questions):
        ann = annotations.get(qid)
        if ann is None:
            raise BadInputError(
                f"{annotations_file}: no annotation for question_id {qid} ({questions_file} questions[{i}])"
            )
        if ann.image_id != image_id:
            raise BadInputError(
                f"{annotations_file}: question_id {qid} is on image {ann.image_id}, but {questions_file} "
                f"questions[{i}] puts it on image {image_id}"
            )
        path = coco_image_path(image_dir, subtype, image_id)
        image = ImageSource(f"coco:{image_id}", path=str(path))
        samples.append(VqaSample(qid, image_id, text, image, ann.answers, ann.answer_type, ann.question_type))
        raw_answers[qid] = ann.raw_answers
    return OkvqaFiles(subtype, samples, raw_answers)
