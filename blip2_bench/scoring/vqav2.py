"""Score a VQAv2 results file ([{"question_id", "answer"}]) as the official evaluation does."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import msgspec

from ..bulk import decode_typed, gc_paused
from ..data.json_files import read_keyed_results
from ..data.vqav2_official import OfficialVqa, read_official
from ..errors import BadInputError
from ..files import atomic_write_json_large
from ..metrics.vqa_accuracy import SCORERS, vqa_scores_columns
from .partial import refuse_nothing_scored


class _Prediction(msgspec.Struct, gc=False):
    question_id: int
    answer: str


def read_answers(path: Path) -> dict[int, str]:
    """question_id -> answer of an official results file, decoded in one pass (decode_typed);
    anything unexpected is left to read_keyed_results, whose record-by-record check names the
    record."""
    records = decode_typed(path, list[_Prediction])
    if records is not None:
        answers = {r.question_id: r.answer for r in records}
        if len(answers) == len(records):  # else a duplicate id
            return answers
    return read_keyed_results(path, "question_id", "answer")


def score_vqav2_files(
    questions: Path, annotations: Path, predictions: Path, scorer: str, allow_partial: bool
) -> tuple[dict[str, Any], str | None]:
    """Scores plus a note when only part of the questions were answered (and allowed)."""
    with gc_paused():  # the whole job: millions of objects, no cycles
        data = read_official(questions, annotations)
        answers = read_answers(predictions)
        return _score(data, answers, questions, predictions, scorer, allow_partial)


def _score(
    data: OfficialVqa, answers: dict[int, str], questions: Path, predictions: Path, scorer: str, allow_partial: bool
) -> tuple[dict[str, Any], str | None]:
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
        refuse_nothing_scored(len(missing), n, predictions, questions)
        note = f"partial: scored {n - len(missing)} of {n} questions ({len(missing)} unanswered)"
    answered = [qid for qid, _, _ in data.questions if qid in answers]
    humans, answer_types, question_types = zip(*map(data.annotations.__getitem__, answered), strict=True)
    answer_texts = list(map(answers.__getitem__, answered))
    return vqa_scores_columns((answered, answer_texts, humans, answer_types, question_types), scorer=scorer), note


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
        atomic_write_json_large(args.json, scores)  # rounded accuracies: all finite
    return 0
