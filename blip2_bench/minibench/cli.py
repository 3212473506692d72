"""Entry points: `blip2-bench make-minibench [DIR]` and the retraining script's main."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from .build import DEFAULT_SEED, make_minibench
from .models import MODELS_DIR, SPECS

DEFAULT_DATA = Path(".cache/minibench/data")


def make_minibench_main(argv: list[str]) -> int:
    """`blip2-bench make-minibench [DIR] [--seed N] [--force]`: write the mini benchmark's data_root."""
    parser = argparse.ArgumentParser(
        prog="blip2-bench make-minibench", description="Write the generated mini benchmark (all four tasks) under DIR."
    )
    parser.add_argument("root", type=Path, nargs="?", default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--force", action="store_true", help="rewrite even when the folder is up to date")
    args = parser.parse_args(argv)
    try:
        print(make_minibench(args.root, args.seed, force=args.force))
    except ValueError as exc:  # a folder it did not write: never overwritten
        print(f"blip2-bench make-minibench: error: {exc}", file=sys.stderr)
        return 2
    return 0


def train_main(argv: list[str] | None = None) -> int:
    """Retrain the shipped pairings (bit-reproducibly on CPU) and optionally score them into their cards."""
    from .pipeline import CACHE, score_all, train_all

    parser = argparse.ArgumentParser(prog="train_minibench", description=train_main.__doc__)
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="where the model folders go (default: shipped)")
    parser.add_argument("--only", nargs="+", choices=list(SPECS), default=list(SPECS))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--steps", type=int, default=None, help="override every model's step count (smoke runs)")
    parser.add_argument("--score", action="store_true", help="afterwards, score trained + random twins via the CLI")
    parser.add_argument("--score-only", action="store_true", help="score the models in --out without training")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log = logging.getLogger("train_minibench")
    if not args.score_only:
        started = time.perf_counter()
        steps = {n: args.steps for n in SPECS} if args.steps else None
        records = train_all(args.out, args.only, args.seed, steps)
        log.info(
            "training: %.0f s (%s)",
            time.perf_counter() - started,
            ", ".join(f"{n} {r['seconds']} s" for n, r in records.items()),
        )
    if args.score or args.score_only:
        scores = score_all(args.out, args.only, args.cache, args.seed)
        print(json.dumps(scores, indent=1))
    return 0
