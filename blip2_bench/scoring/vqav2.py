"""Score a VQAv2 results file ([{"question_id", "answer"}]) as the official evaluation does."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..bulk import all_utf8, gc_paused
from ..data.json_files import read_json, read_keyed_results
from ..data.vqav2_official import read_official
from ..errors import BadInputError
from ..files import atomic_write_json
from ..metrics.vqa_accuracy import SCORERS, vqa_scores_rows


def read_answers(path: Path) -> dict[int, str]:
    """question_id -> answer of an official results file, checked in one tight pass; anything
    unexpected is left to read_keyed_results, whose record-by-record check names the record."""
    records = read_json(path, "predictions file")
    answers: dict[int, str] = {}
    if type(records) is list:
        for r in records:
            qid, answer = (r.get("question_id"), r.get("answer")) if type(r) is dict else (None, None)
            if type(qid) is not int or type(answer) is not str:  # type() is exact: a bool is no id
                break
            answers[qid] = answer
        else:
            if len(answers) == len(records) and all_utf8(answers.values()):  # else: a duplicate, or bad text
                return answers
    return read_keyed_results(path, "question_id", "answer")


def score_vqav2_files(
    questions: Path, annotations: Path, predictions: Path, scorer: str, allow_partial: bool
) -> tuple[dict[str, Any], str | None]:
    """Scores plus a note when only part of the questions were answered (and allowed)."""
    with gc_paused():
        data = read_official(questions, annotations)
        answers = read_answers(predictions)
    assert data.annotations is not None
    known = {qid for qid, _, _ in data.questions}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise BadInputError(
            f"{predictions}: answer for unknown question_id {unknown[0]} "
            f"({len(unknown)} unknown ids; not in {questions})"
        )
    n = len(data.questions)
    missing = [qid for qid, _, _ in data.questions if qid not in answers]
    note = None
    if missing:
        head = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
        if not allow_partial:
            raise BadInputError(
                f"{predictions}: no answer for {len(missing)} of {n} questions "
                f"(e.g. {head}); the official evaluation requires all (or pass --allow-partial)"
            )
        note = f"partial: scored {n - len(missing)} of {n} questions ({len(missing)} unanswered)"
    rows = [(qid, answers[qid], *data.annotations[qid]) for qid, _, _ in data.questions if qid in answers]
    return vqa_scores_rows(rows, scorer=scorer), note


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
