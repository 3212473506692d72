"""Read VQAv2's official questions and annotations files quickly, with record-by-record errors.

Each file is first decoded straight into the fields used (bulk.decode_typed: exact JSON types,
nothing else built). Only when that meets anything unexpected is the file read with json.load
and checked record by record with the json_files helpers, whose first complaint (naming file
and record) is raised. Both accept the same files with the same values (but for the two
pathological ones bulk.decode_typed names), so a good file never pays for the second pass and a
bad one gets the same one-line error as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from ..bulk import decode_typed, gc_paused
from ..errors import BadInputError
from .json_files import read_json, require_keys, require_list, require_type

# data_subtype in the questions file -> the COCO image folder its images live in.
IMAGE_FOLDERS = {"val2014": "val2014", "train2014": "train2014", "test-dev2015": "test2015", "test2015": "test2015"}

Annotation = tuple[tuple[str, ...], str, str]
"""(the raw human answers in file order, answer_type, question_type) of one question."""


@dataclass(frozen=True)
class OfficialVqa:
    subtype: str
    """data_subtype of the questions file (a key of IMAGE_FOLDERS)."""
    questions: list[tuple[int, int, str]]
    """(question_id, image_id, question) in file order; ids unique."""
    annotations: dict[int, Annotation] | None
    """question_id -> its annotation, for every question; None without an annotations file."""


# The fields read, as decode_typed builds them (gc=False: these never form reference cycles).
class _Question(msgspec.Struct, gc=False):
    question_id: int
    image_id: int
    question: str


class _QuestionsFile(msgspec.Struct, gc=False):
    questions: list[_Question]
    data_subtype: str = "val2014"


class _HumanAnswer(msgspec.Struct, gc=False):
    answer: str


class _Annotation(msgspec.Struct, gc=False):
    question_id: int
    answers: list[_HumanAnswer]
    answer_type: str
    question_type: str


class _AnnotationsFile(msgspec.Struct, gc=False):
    annotations: list[_Annotation]


def read_official(questions_file: Path, annotations_file: Path | None, limit: int | None = None) -> OfficialVqa:
    """The official v2 files, checked; `limit` keeps the first questions only."""
    with gc_paused():
        fast = _questions_fast(questions_file, limit)
        if fast is not None:
            subtype, questions = fast
            _check_subtype(subtype, questions_file)
            records: list[Any] = []
        else:
            subtype, records = _questions_records(questions_file, limit)
            questions = None
        annotations = _read_annotations(annotations_file) if annotations_file is not None else None
        if questions is None:
            questions = _questions_checked(records, questions_file, annotations, annotations_file)
        elif annotations is not None:
            for i, (qid, _, _) in enumerate(questions):
                if qid not in annotations:
                    raise BadInputError(
                        f"{annotations_file}: no annotation for question_id {qid} ({questions_file} questions[{i}])"
                    )
    return OfficialVqa(subtype, questions, annotations)


def _check_subtype(subtype: Any, path: Path) -> None:
    if not isinstance(subtype, str) or subtype not in IMAGE_FOLDERS:  # a list is not hashable
        raise BadInputError(f"{path}: unknown data_subtype {subtype!r} (known: {', '.join(IMAGE_FOLDERS)})")


def _questions_fast(path: Path, limit: int | None) -> tuple[str, list[tuple[int, int, str]]] | None:
    doc = decode_typed(path, _QuestionsFile)
    if doc is None or not doc.questions:
        return None
    records = doc.questions[:limit] if limit else doc.questions
    out = [(q.question_id, q.image_id, q.question) for q in records]
    return (doc.data_subtype, out) if len({q[0] for q in out}) == len(out) else None


def _questions_records(path: Path, limit: int | None) -> tuple[Any, list[Any]]:
    """(data_subtype, the question records) of the file as json.load reads it, checked."""
    doc = require_keys(read_json(path, "VQAv2 questions file"), ["questions"], path, "top level")
    subtype = doc.get("data_subtype", "val2014")
    _check_subtype(subtype, path)
    records = require_list(doc["questions"], path, "'questions'")
    if not records:
        raise BadInputError(f"{path}: 'questions' is empty")
    return subtype, records[:limit] if limit else records


def _questions_checked(
    records: list[Any], path: Path, annotations: dict[int, Annotation] | None, annotations_file: Path | None
) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
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
        if annotations is not None and qid not in annotations:
            raise BadInputError(f"{annotations_file}: no annotation for question_id {qid} ({path} {where})")
        out.append((qid, image_id, text))
    return out


def _read_annotations(path: Path) -> dict[int, Annotation]:
    fast = _annotations_fast(path)
    if fast is not None:
        return fast
    return _annotations_checked(read_json(path, "VQAv2 annotations file"), path)


def _annotations_fast(path: Path) -> dict[int, Annotation] | None:
    doc = decode_typed(path, _AnnotationsFile)
    if doc is None:
        return None
    by_id = {
        a.question_id: (tuple([h.answer for h in a.answers]), a.answer_type, a.question_type) for a in doc.annotations
    }
    if len(by_id) != len(doc.annotations) or not all(humans for humans, _, _ in by_id.values()):
        return None  # a duplicate id, or a question without human answers: the checks name it
    return by_id


def _annotations_checked(doc: Any, path: Path) -> dict[int, Annotation]:
    doc = require_keys(doc, ["annotations"], path, "top level")
    by_id: dict[int, Annotation] = {}
    for i, ann in enumerate(require_list(doc["annotations"], path, "'annotations'")):
        where = f"annotations[{i}]"
        require_keys(ann, ["question_id", "answers", "answer_type", "question_type"], path, where)
        qid = require_type(ann["question_id"], int, path, f"{where}.question_id")
        if qid in by_id:
            raise BadInputError(f"{path}: {where}: duplicate question_id {qid}")
        answers = require_list(ann["answers"], path, f"{where}.answers")
        if not answers:
            raise BadInputError(f"{path}: {where}: no human answers")
        for j, a in enumerate(answers):
            require_keys(a, ["answer"], path, f"{where}.answers[{j}]")
            require_type(a["answer"], str, path, f"{where}.answers[{j}].answer")
        humans = tuple(a["answer"] for a in answers)
        by_id[qid] = (humans, str(ann["answer_type"]), str(ann["question_type"]))
    return by_id
