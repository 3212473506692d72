"""GQA loader: the official balanced question files (questions1.2), checked record by record.

``testdev_balanced_questions.json`` (and ``val_balanced_questions.json``) is one JSON object keyed
by question id: ``{"<questionId>": {"question", "imageId", "answer", "fullAnswer", "isBalanced",
"types": {"structural", "semantic", "detailed"}, "semantic": [{"operation", "argument",
"dependencies"}], "semanticStr", "groups": {"global", "local"}, "entailed", "equivalent",
"annotations": {...}}}``. Question ids are strings and stay strings (some have leading zeros; the
official predictions format and evaluation match them as strings). Images are
``images/<imageId>.jpg``; test-dev image ids look like ``n161313``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from ..types import ImageSource
from .json_files import read_json, require_keys, require_list, require_type

SPLIT_FILES = {"test-dev": "testdev_balanced_questions.json", "val": "val_balanced_questions.json"}
STRUCTURAL_TYPES = ("query", "verify", "logical", "choose", "compare")
SEMANTIC_TYPES = ("rel", "attr", "obj", "cat", "global")
TYPE_KEYS = ("structural", "semantic", "detailed")
_NOT_A_STEP = ("exist", "query: name", "choose name")
"""The official eval's getStepsNum leaves out operations whose "op: arg" contains one of these."""


@dataclass(frozen=True)
class GqaSample:
    question_id: str
    image_id: str
    question: str
    """As in the file (preprocessing happens when the prompt is built)."""
    image: ImageSource
    answer: str
    structural: str
    semantic: str
    detailed: str
    words: int
    """len(question.split()): the official eval's "accuracy per length" key."""
    steps: int
    """The official eval's reasoning-step count (its "accuracy per steps" key)."""

    @property
    def sample_id(self) -> str:
        return self.question_id


@dataclass(frozen=True)
class GqaQuestions:
    samples: list[GqaSample]
    unbalanced: tuple[str, ...]
    """Ids of questions with isBalanced false: skipped, as the official accuracy counts balanced ones only."""


def _wrong_form(doc: Any, path: Path) -> str | None:
    """Why `doc` is some other file (LAVIS's converted list, a VQA file, a scene graph), if it is."""
    if isinstance(doc, list):
        first = doc[0] if doc else None
        if isinstance(first, Mapping) and {"image", "question"} <= set(first):
            return (
                "a list of {image, question, question_id, answer}: LAVIS's converted GQA file, not the official "
                "one (questions1.2: one JSON object keyed by question id); point task.gqa.questions_file at it"
            )
        return "a JSON list; the official GQA questions file is one JSON object keyed by question id"
    if not isinstance(doc, Mapping):
        return f"a JSON {type(doc).__name__}; the official GQA questions file is one JSON object keyed by question id"
    if "questions" in doc or "annotations" in doc:
        return "a VQA-style file ('questions'/'annotations' lists), not a GQA questions file"
    first = next(iter(doc.values()), None)
    if isinstance(first, Mapping) and "objects" in first and "question" not in first:
        return "a GQA scene-graph file (objects per image), not a questions file"
    return None


def _steps(semantic: list[Any], path: Path, where: str) -> int:
    n = 0
    for k, op in enumerate(semantic):
        require_keys(op, ["operation", "argument"], path, f"{where}.semantic[{k}]")
        text = f"{op['operation']}: {op['argument']}"
        n += not any(o in text for o in _NOT_A_STEP)
    return n


def load_gqa(questions_file: Path, image_dir: Path, limit: int | None = None) -> GqaQuestions:
    """Balanced questions in file order (the first `limit`), checked, with their image paths."""
    doc = read_json(questions_file, "GQA questions file")
    reason = _wrong_form(doc, questions_file)
    if reason:
        raise BadInputError(f"{questions_file}: {reason}")
    if not doc:
        raise BadInputError(f"{questions_file}: no questions")
    samples: list[GqaSample] = []
    unbalanced: list[str] = []
    for qid, q in doc.items():
        if limit is not None and len(samples) >= limit:
            break
        where = f"question {qid!r}"
        require_keys(q, ["question", "imageId", "isBalanced", "types", "semantic"], questions_file, where)
        if "answer" not in q:
            raise BadInputError(
                f"{questions_file}: {where} has no 'answer' (GQA's test, challenge and submission files carry "
                "none; use testdev_balanced_questions.json or val_balanced_questions.json)"
            )
        balanced = q["isBalanced"]
        if not isinstance(balanced, bool):
            raise BadInputError(f"{questions_file}: {where}.isBalanced should be true or false, got {balanced!r}")
        types = require_keys(q["types"], TYPE_KEYS, questions_file, f"{where}.types")
        structural, sem, detailed = (
            require_type(types[k], str, questions_file, f"{where}.types.{k}") for k in TYPE_KEYS
        )
        text = require_type(q["question"], str, questions_file, f"{where}.question")
        image_id = require_type(q["imageId"], str, questions_file, f"{where}.imageId")
        answer = require_type(q["answer"], str, questions_file, f"{where}.answer")
        steps = _steps(require_list(q["semantic"], questions_file, f"{where}.semantic"), questions_file, where)
        if not balanced:
            unbalanced.append(qid)
            continue
        image = ImageSource(f"gqa:{image_id}", path=str(image_dir / f"{image_id}.jpg"))
        samples.append(
            GqaSample(qid, image_id, text, image, answer, structural, sem, detailed, len(text.split()), steps)
        )
    if not samples:
        raise BadInputError(f"{questions_file}: no balanced questions (isBalanced true) to score")
    return GqaQuestions(samples, tuple(unbalanced))
