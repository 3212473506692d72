"""Read VQAv2's official questions and annotations files quickly, with record-by-record errors.

Each file is first checked in one tight pass (exact JSON types, no per-field helper calls).
Only when that pass meets anything unexpected is the file checked again record by record
with the json_files helpers, whose first complaint (naming file and record) is raised.
Both passes accept the same files, so a good file never pays for the second one and a bad
one gets the same one-line error as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bulk import all_utf8, gc_paused
from ..errors import BadInputError
from ..json_parts import default_workers, parse_array_in_parts
from .json_files import read_json, require_keys, require_list, require_type

# data_subtype in the questions file -> the COCO image folder its images live in.
IMAGE_FOLDERS = {"val2014": "val2014", "train2014": "train2014", "test-dev2015": "test2015", "test2015": "test2015"}

Annotation = tuple[tuple[str, ...], str, str]
"""(the raw human answers in file order, answer_type, question_type) of one question."""

# Keys of one human answer; the released files hold exactly these.
_ANSWER_KEYS = frozenset({"answer", "answer_confidence", "answer_id"})


@dataclass(frozen=True)
class OfficialVqa:
    subtype: str
    """data_subtype of the questions file (a key of IMAGE_FOLDERS)."""
    questions: list[tuple[int, int, str]]
    """(question_id, image_id, question) in file order; ids unique."""
    annotations: dict[int, Annotation] | None
    """question_id -> its annotation, for every question; None without an annotations file."""


def read_official(
    questions_file: Path, annotations_file: Path | None, limit: int | None = None, workers: int | None = None
) -> OfficialVqa:
    """The official v2 files, checked; `limit` keeps the first questions only. A large
    annotations file is parsed in `workers` processes (default: the CPUs, at most 8)."""
    with gc_paused():
        qdoc = read_json(questions_file, "VQAv2 questions file")
        qdoc = require_keys(qdoc, ["questions"], questions_file, "top level")
        subtype = qdoc.get("data_subtype", "val2014")
        if subtype not in IMAGE_FOLDERS:
            raise BadInputError(
                f"{questions_file}: unknown data_subtype {subtype!r} (known: {', '.join(IMAGE_FOLDERS)})"
            )
        records = require_list(qdoc["questions"], questions_file, "'questions'")
        if not records:
            raise BadInputError(f"{questions_file}: 'questions' is empty")
        records = records[:limit] if limit else records
        questions = _questions_fast(records)
        del qdoc
        if questions is not None:
            records = []  # free the parsed file before the (larger) annotations file is read
        annotations = (
            _read_annotations(annotations_file, default_workers() if workers is None else workers)
            if annotations_file is not None
            else None
        )
        if questions is None:
            questions = _questions_checked(records, questions_file, annotations, annotations_file)
        elif annotations is not None:
            for i, (qid, _, _) in enumerate(questions):
                if qid not in annotations:
                    raise BadInputError(
                        f"{annotations_file}: no annotation for question_id {qid} ({questions_file} questions[{i}])"
                    )
    return OfficialVqa(subtype, questions, annotations)


def _questions_fast(records: list[Any]) -> list[tuple[int, int, str]] | None:
    out = []
    for q in records:
        if type(q) is not dict:
            return None
        qid, image_id, text = q.get("question_id"), q.get("image_id"), q.get("question")
        # type() is exact: a bool is not an int here (as require_type has it).
        if type(qid) is not int or type(image_id) is not int or type(text) is not str:
            return None
        out.append((qid, image_id, text))
    if len({q[0] for q in out}) != len(out) or not all_utf8(q[2] for q in out):
        return None
    return out


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


def _read_annotations(path: Path, workers: int) -> dict[int, Annotation]:
    fast = _annotations_fast(path, workers)
    if fast is not None:
        return fast
    return _annotations_checked(read_json(path, "VQAv2 annotations file"), path)


class _CompactingDecoder(json.JSONDecoder):
    """Each human answer {"answer", "answer_confidence", "answer_id"} becomes a shared 1-tuple
    (answer,) while parsing: ~2.1M dicts in VQAv2 val collapse to one per distinct answer
    (peak memory less than half), and a tuple, which JSON never yields, marks a checked one."""

    def __init__(self) -> None:
        self.shared: dict[str, tuple[str]] = {}
        super().__init__(object_hook=self._compact)

    def _compact(self, obj: dict[str, Any]) -> Any:
        answer = obj.get("answer")
        if type(answer) is str and obj.keys() <= _ANSWER_KEYS:
            found = self.shared.get(answer)
            if found is None:
                found = self.shared[answer] = (answer,)
            return found
        return obj


def _annotations_fast(path: Path, workers: int) -> dict[int, Annotation] | None:
    in_parts = parse_array_in_parts(path, "annotations", _CompactingDecoder, _annotations_part, workers)
    if in_parts is not None:
        merged: dict[int, Annotation] = {}
        for part in in_parts[1]:
            if part is None or not merged.keys().isdisjoint(part):  # bad record, or a duplicate id
                return None
            merged.update(part)
        return merged
    decoder = _CompactingDecoder()
    try:
        raw = Path(path).read_bytes()
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")  # as json.loads decodes bytes
        del raw  # before parsing, as json.loads lets go of them
        doc = decoder.decode(text)
    except (OSError, ValueError, RecursionError):  # read_json says which, in its words
        return None
    anns = doc.get("annotations") if type(doc) is dict else None
    return _annotations_part(anns, decoder) if type(anns) is list else None


def _annotations_part(anns: list[Any], decoder: _CompactingDecoder) -> dict[int, Annotation] | None:
    """The annotations parsed by `decoder`, or None at the first unexpected one."""
    by_id: dict[int, Annotation] = {}
    for ann in anns:
        if type(ann) is not dict or "answer_type" not in ann or "question_type" not in ann:
            return None
        qid, answers = ann.get("question_id"), ann.get("answers")
        if type(qid) is not int or type(answers) is not list or not answers or qid in by_id:
            return None
        humans = tuple([a[0] for a in answers if type(a) is tuple])
        if len(humans) != len(answers):
            return None
        answer_type, question_type = ann["answer_type"], ann["question_type"]
        by_id[qid] = (
            humans,
            answer_type if type(answer_type) is str else str(answer_type),
            question_type if type(question_type) is str else str(question_type),
        )
    return by_id if all_utf8(decoder.shared) else None


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
