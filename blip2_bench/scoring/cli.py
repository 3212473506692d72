"""Argument parsing and output for `blip2-bench score <task> ...`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..errors import BenchError
from ..metrics.vqa_accuracy import SCORERS
from ..registry import unknown_name_message
from ..rundir import atomic_write_json

log = logging.getLogger(__name__)


def _vqav2(argv: list[str]) -> int:
    from .vqav2 import score_vqav2_files

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


COMMANDS = {"vqav2": _vqav2}


def score_main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: blip2-bench score {{{','.join(COMMANDS)}}} [options]")
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"blip2-bench score: {unknown_name_message('scorer task', name, COMMANDS)}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[name](rest)
    except BenchError as exc:
        print(f"blip2-bench score {name}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except SystemExit as exc:  # argparse: bad arguments
        return 2 if exc.code else 0
