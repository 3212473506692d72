"""Score an OK-VQA results file ([{"question_id", "answer"}]) as LAVIS scores BLIP-2 on OK-VQA.

The answers are lemmatized first (spaCy en_core_web_sm, as LAVIS's ``apply_lemmatizer``;
``--lemmatizer auto`` says so when it cannot run), then scored with the VQA evaluation against
the official OK-VQA annotations. A run's export holds its answers before lemmatization, so
scoring it gives back the run's scores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..data.okvqa import load_okvqa
from ..errors import BadInputError
from ..files import atomic_write_json
from ..metrics.lemmatize import MODES, NOT_COMPARABLE, choose_lemmatizer
from ..metrics.okvqa_accuracy import okvqa_scores
from ..metrics.vqa_accuracy import SCORERS, VqaRecord
from .partial import refuse_nothing_scored
from .vqav2 import read_answers


def score_okvqa_files(
    questions: Path, annotations: Path, predictions: Path, scorer: str, lemmatizer_mode: str, allow_partial: bool
) -> dict[str, Any]:
    """Scores (the keys of a run's results.json), with a "note" for a partial set or no lemmatizer."""
    lemmatizer = choose_lemmatizer(lemmatizer_mode, "--lemmatizer")
    if lemmatizer_mode == "auto" and not lemmatizer.applied:
        print(f"WARNING: lemmatizer {lemmatizer.detail}; {NOT_COMPARABLE}", file=sys.stderr)
    # The images are not read; any folder does for the paths the loader builds.
    data = load_okvqa(questions, annotations, Path("."))
    answers = read_answers(predictions)
    known = {s.question_id for s in data.samples}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise BadInputError(
            f"{predictions}: answer for unknown question_id {unknown[0]} "
            f"({len(unknown)} unknown ids; not in {questions})"
        )
    n = len(data.samples)
    missing = [s.question_id for s in data.samples if s.question_id not in answers]
    notes = []
    if missing:
        head = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
        if not allow_partial:
            raise BadInputError(
                f"{predictions}: no answer for {len(missing)} of {n} questions "
                f"(e.g. {head}); the VQA evaluation requires all (or pass --allow-partial)"
            )
        refuse_nothing_scored(len(missing), n, predictions, questions)
        notes.append(f"partial: scored {n - len(missing)} of {n} questions ({len(missing)} unanswered)")
    records = [
        VqaRecord(s.question_id, answers[s.question_id], s.answers or (), s.answer_type, s.question_type)
        for s in data.samples
        if s.question_id in answers
    ]
    scores, _ = okvqa_scores(records, lemmatizer, scorer=scorer)
    if not lemmatizer.applied:
        notes.append(NOT_COMPARABLE)
    if notes:
        scores["note"] = "; ".join(notes)
    return scores


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="blip2-bench score okvqa", description="OK-VQA accuracy of a results file, as LAVIS computes BLIP-2's."
    )
    parser.add_argument("--questions", type=Path, required=True, help="OpenEnded_mscoco_val2014_questions.json")
    parser.add_argument("--annotations", type=Path, required=True, help="mscoco_val2014_annotations.json")
    parser.add_argument("--predictions", type=Path, required=True, help='[{"question_id": int, "answer": str}]')
    parser.add_argument(
        "--scorer",
        choices=SCORERS,
        default="lavis",
        help="lavis (default): the pre-2021 VQA evaluation LAVIS ships; official: current GT-Vision-Lab/VQA",
    )
    parser.add_argument(
        "--lemmatizer",
        choices=MODES,
        default="auto",
        help="auto (default): spaCy en_core_web_sm when installed, else none (said and recorded); spacy: "
        "required; off: answers already lemmatized (e.g. a LAVIS result file)",
    )
    parser.add_argument("--allow-partial", action="store_true", help="score only the answered questions")
    parser.add_argument("--json", type=Path, help="write the scores here")
    args = parser.parse_args(argv)
    scores = score_okvqa_files(
        args.questions, args.annotations, args.predictions, args.scorer, args.lemmatizer, args.allow_partial
    )
    print(f"OK-VQA accuracy ({args.scorer} scorer, lemmatizer {scores['lemmatizer']}): {scores['accuracy']:.2f}")
    for category, value in scores["per_category"].items():
        print(f"  {category:<6} {value:.2f}")
    if "note" in scores:
        print(f"NOTE: {scores['note']}")
    if args.json:
        atomic_write_json(args.json, scores)
    return 0
