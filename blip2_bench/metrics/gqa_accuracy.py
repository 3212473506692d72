"""GQA accuracy: exact match, after LAVIS's answer normalization or none (the official eval).

Sources (read, re-implemented; nothing vendored):

* ``scorer="official"``: the GQA evaluation script (gqadataset.org ``eval.py``, v1.4): over the
  balanced questions, ``correct = (predicted == gold)`` on the raw strings, accuracy =
  mean x 100; "binary" = every structural type but ``query``, "open" = ``query``; per structural
  and semantic type, per question length (``len(question.split())``) and per reasoning steps.
  Consistency, validity, plausibility, grounding and distribution need files beyond the questions
  (choices, scene graphs, attention maps) and are not computed.
* ``scorer="lavis"``: LAVIS ``GQATask._report_metrics`` (lavis/tasks/vqa.py) as added in b345799
  (2023-02-09, "zero-shot gqa evaluation", the code of the BLIP-2 GQA configs) and kept through
  b38a7ac: the PREDICTION goes through the VQA evaluation's ``processPunctuation`` then
  ``processDigitArticle`` (no whitespace cleanup first); the gold answer is compared raw. So a
  gold answer that normalization would change (``t-shirt``: the prediction ``t-shirt`` becomes
  ``t shirt``) can never be matched.
* ``scorer="lavis-2023-12"``: LAVIS since 71a2da9 (2023-12-06): the gold answer is normalized the
  same way too.

The normalization helpers are the VQA evaluation's own (``metrics/vqa_accuracy.py``), shared by
import so the two stay one implementation of LAVIS's ``vqa_eval.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .vqa_accuracy import _process_digit_article, _process_punctuation

SCORERS: tuple[str, ...] = ("lavis", "lavis-2023-12", "official")


def lavis_normalize(answer: str) -> str:
    """``processDigitArticle(processPunctuation(answer))`` as LAVIS's GQA task applies it."""
    return _process_digit_article(_process_punctuation(answer))


def _check_scorer(scorer: str) -> None:
    if scorer not in SCORERS:
        raise ValueError(f"unknown GQA scorer {scorer!r}; valid scorers: {SCORERS}")


def compared(prediction: str, answer: str, scorer: str) -> tuple[str, str]:
    """The two strings each scorer compares."""
    _check_scorer(scorer)
    if scorer == "official":
        return prediction, answer
    return lavis_normalize(prediction), (lavis_normalize(answer) if scorer == "lavis-2023-12" else answer)


def is_correct(prediction: str, answer: str, scorer: str = "lavis") -> bool:
    pred, gold = compared(prediction, answer, scorer)
    return pred == gold


@dataclass(frozen=True)
class GqaRecord:
    question_id: str
    prediction: str
    answer: str
    structural: str
    semantic: str
    detailed: str
    words: int
    steps: int


def _pct(values: list[float]) -> float:
    # The official eval: avg(l) = float(sum(l)) / len(l), times 100, printed with 2 decimals
    # (kept unrounded here, as the script's scores dict holds it).
    return float(sum(values)) / len(values) * 100


def _grouped(keys: Sequence[str | int], values: list[float]) -> dict[str, float]:
    """Accuracy per key, keys in sorted order (numbers numerically), as strings (JSON keys)."""
    groups: dict[str | int, list[float]] = {}
    for key, value in zip(keys, values, strict=True):
        groups.setdefault(key, []).append(value)
    return {str(key): _pct(groups[key]) for key in sorted(groups)}  # type: ignore[type-var]


def gqa_scores(records: Sequence[GqaRecord], scorer: str = "lavis") -> dict[str, Any]:
    """Returns {"accuracy", "binary", "open", "per_structural_type", "per_semantic_type",
    "per_detailed_type", "per_length", "per_steps", "counts", "per_question"} on the 0-100 scale
    (per_question: 100.0 or 0.0). Raises ValueError on an unknown scorer, no records or a
    duplicate question id."""
    _check_scorer(scorer)
    if not records:
        raise ValueError("records is empty")
    per_question: dict[str, float] = {}
    scores: list[float] = []
    for r in records:
        if r.question_id in per_question:
            raise ValueError(f"duplicate questionId {r.question_id!r}")
        score = 1.0 if is_correct(r.prediction, r.answer, scorer) else 0.0
        scores.append(score)
        per_question[r.question_id] = 100 * score
    binary = [s for r, s in zip(records, scores, strict=True) if r.structural != "query"]
    open_ = [s for r, s in zip(records, scores, strict=True) if r.structural == "query"]
    structural = [r.structural for r in records]
    semantic = [r.semantic for r in records]
    return {
        "accuracy": _pct(scores),
        # The official eval's avg() of an empty list is 0.
        "binary": _pct(binary) if binary else 0.0,
        "open": _pct(open_) if open_ else 0.0,
        "per_structural_type": _grouped(structural, scores),
        "per_semantic_type": _grouped(semantic, scores),
        "per_detailed_type": _grouped([r.detailed for r in records], scores),
        "per_length": _grouped([r.words for r in records], scores),
        "per_steps": _grouped([r.steps for r in records], scores),
        "counts": {
            "questions": len(records),
            "binary": len(binary),
            "open": len(open_),
            "per_structural_type": {t: structural.count(t) for t in sorted(set(structural))},
            "per_semantic_type": {t: semantic.count(t) for t in sorted(set(semantic))},
        },
        "per_question": per_question,
    }
