"""Score a GQA predictions file ([{"questionId", "prediction"}]) as LAVIS or the official eval does.

The official GQA evaluation reads the same file and requires a prediction for every balanced
question; questionIds are strings, matched exactly against the questions file's keys.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..data.gqa import load_gqa
from ..data.json_files import read_json, require_keys, require_list, require_type
from ..errors import BadInputError
from ..files import atomic_write_json
from ..metrics.gqa_accuracy import SCORERS, GqaRecord, gqa_scores
from .partial import refuse_nothing_scored


def read_predictions(path: Path) -> dict[str, str]:
    """questionId -> prediction; a duplicate id, a wrong type or an integer id names the record."""
    out: dict[str, str] = {}
    for i, entry in enumerate(require_list(read_json(path, "predictions file"), path, "top level")):
        where = f"record {i}"
        require_keys(entry, ["questionId", "prediction"], path, where)
        qid = entry["questionId"]
        if isinstance(qid, int) and not isinstance(qid, bool):
            raise BadInputError(
                f"{path}: {where}.questionId is the number {qid}; GQA question ids are strings "
                f'(e.g. "{qid}"), matched exactly against the questions file'
            )
        qid = require_type(qid, str, path, f"{where}.questionId")
        prediction = require_type(entry["prediction"], str, path, f"{where}.prediction")
        if qid in out:
            raise BadInputError(f"{path}: {where}: duplicate questionId {qid!r}")
        out[qid] = prediction
    return out


def score_gqa_files(questions: Path, predictions: Path, scorer: str, allow_partial: bool) -> dict[str, Any]:
    data = load_gqa(questions, Path("."))  # images are not read
    answers = read_predictions(predictions)
    # Predictions for unbalanced questions are allowed and ignored, as by the official eval.
    known = {s.question_id for s in data.samples} | set(data.unbalanced)
    unknown = [qid for qid in answers if qid not in known]
    if unknown:
        raise BadInputError(
            f"{predictions}: prediction for unknown questionId {unknown[0]!r} "
            f"({len(unknown)} unknown ids; not in {questions})"
        )
    n = len(data.samples)
    missing = [s.question_id for s in data.samples if s.question_id not in answers]
    note = None
    if missing:
        head = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        if not allow_partial:
            raise BadInputError(
                f"{predictions}: no prediction for {len(missing)} of {n} balanced questions (e.g. {head}); "
                "the official evaluation requires all (or pass --allow-partial)"
            )
        refuse_nothing_scored(len(missing), n, predictions, questions)
        note = f"partial: scored {n - len(missing)} of {n} questions ({len(missing)} without a prediction)"
    records = [
        GqaRecord(
            s.question_id, answers[s.question_id], s.answer, s.structural, s.semantic, s.detailed, s.words, s.steps
        )
        for s in data.samples
        if s.question_id in answers
    ]
    scores = gqa_scores(records, scorer=scorer)
    if note:
        scores["note"] = note
    return scores


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="blip2-bench score gqa", description="GQA accuracy of a predictions file.")
    parser.add_argument("--questions", type=Path, required=True, help="testdev_balanced_questions.json")
    parser.add_argument("--predictions", type=Path, required=True, help='[{"questionId": str, "prediction": str}]')
    parser.add_argument(
        "--scorer",
        choices=SCORERS,
        default="lavis",
        help="lavis (default): prediction normalized as LAVIS's GQA task (BLIP-2); lavis-2023-12: gold "
        "normalized too; official: raw exact match (gqadataset.org eval.py)",
    )
    parser.add_argument("--allow-partial", action="store_true", help="score only the predicted questions")
    parser.add_argument("--json", type=Path, help="write the scores here")
    args = parser.parse_args(argv)
    scores = score_gqa_files(args.questions, args.predictions, args.scorer, args.allow_partial)
    print(f"GQA accuracy ({args.scorer} scorer): {scores['accuracy']:.2f}")
    print(f"  binary   {scores['binary']:.2f}\n  open     {scores['open']:.2f}")
    for kind, value in scores["per_structural_type"].items():
        print(f"  {kind:<8} {value:.2f}")
    if "note" in scores:
        print(f"NOTE: {scores['note']}")
    if args.json:
        atomic_write_json(args.json, scores)
    return 0
