"""Score a VQAv2 results file ([{"question_id", "answer"}]) as the official evaluation does."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..data.json_files import read_keyed_results
from ..data.vqav2 import load_official
from ..errors import BadInputError
from ..files import atomic_write_json
from ..metrics.vqa_accuracy import SCORERS, VqaRecord, vqa_scores


def score_vqav2_files(
    questions: Path, annotations: Path, predictions: Path, scorer: str, allow_partial: bool
) -> tuple[dict[str, Any], str | None]:
    """Scores plus a note when only part of the questions were answered (and allowed)."""
    samples = load_official(questions, annotations, image_dir=Path("."))
    answers = read_keyed_results(predictions, "question_id", "answer")
    known = {s.question_id for s in samples}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise BadInputError(
            f"{predictions}: answer for unknown question_id {unknown[0]} "
            f"({len(unknown)} unknown ids; not in {questions})"
        )
    missing = [s.question_id for s in samples if s.question_id not in answers]
    note = None
    if missing:
        head = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
        if not allow_partial:
            raise BadInputError(
                f"{predictions}: no answer for {len(missing)} of {len(samples)} questions "
                f"(e.g. {head}); the official evaluation requires all (or pass --allow-partial)"
            )
        note = f"partial: scored {len(samples) - len(missing)} of {len(samples)} questions ({len(missing)} unanswered)"
    records = [
        VqaRecord(s.question_id, answers[s.question_id], s.answers or (), s.answer_type, s.question_type)
        for s in samples
        if s.question_id in answers
    ]
    return vqa_scores(records, scorer=scorer), note


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="blip2-bench score vqav2", description="Official VQA accuracy of a results file."
    )
    parser.add_argument("--questions", type=Path, required=True, help="v2_OpenEnded_mscoco_*_questions.json")
    parser.add_argument("--annotations", type=Path, required=True, help="v2_mscoco_*_annotations.json")
    parser.add_argument("--predictions", type=Path, required=True, help='[{"question_id": int, "answer": str}]')
    parser.add_argument(
        "--scorer",
        choices=SCORERS,
        default="official",
        help="official: current GT-Vision-Lab/VQA; lavis: the pre-2021 copy LAVIS ships",
    )
    parser.add_argument("--allow-partial", action="store_true", help="score only the answered questions")
    parser.add_argument("--json", type=Path, help="write the scores here")
    args = parser.parse_args(argv)
    scores, note = score_vqav2_files(
        args.questions, args.annotations, args.predictions, args.scorer, args.allow_partial
    )
    print(f"VQA accuracy ({args.scorer} scorer): {scores['accuracy']:.2f}")
    for answer_type, value in sorted(scores["per_answer_type"].items()):
        print(f"  {answer_type:<8} {value:.2f}")
    if note:
        print(f"NOTE: {note}")
        scores = {**scores, "note": note}
    if args.json:
        atomic_write_json(args.json, scores)
    return 0
