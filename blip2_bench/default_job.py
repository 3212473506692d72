"""`blip2-bench` with no arguments: the embedded default benchmark.

Generates the mini benchmark (idempotent), runs every task on it for the shipped trained pairings
(mini-opt and mini-t5 on the generation tasks, mini-itm on retrieval), each pairing loaded once
for all its tasks, then writes and prints the comparison report of the three runs. Offline,
CPU-friendly, and the input `blip2-bench check` gates in CI against results/baseline/.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import sys
import time
from pathlib import Path

from .errors import BadInputError

log = logging.getLogger(__name__)

DEFAULT_OUT = Path("results/default")
REPORT_SEED, REPORT_RESAMPLES = 20230130, 2000


def run_default(out: Path, data: Path, overrides: list[str]) -> int:
    """Runs go to <out>/<pairing>/, the report to <out>/report/; returns the first failing exit code."""
    from .cli import _run_hydra
    from .minibench.build import make_minibench
    from .minibench.measure import tasks_for
    from .minibench.models import SPECS
    from .report.cli import write_report

    started = time.perf_counter()
    make_minibench(data)
    runs = []
    for name in SPECS:
        run_dir = out / name
        args = [f"backend={name}", f"data_root={data}", f"task=[{','.join(tasks_for(name))}]"]
        with contextlib.redirect_stdout(io.StringIO()):  # each run's own table stays in its folder
            code = _run_hydra([*args, f"hydra.run.dir={run_dir}", *overrides])
        if code != 0:
            print(f"blip2-bench: the default benchmark stopped: the {name} run failed (exit {code})", file=sys.stderr)
            return code
        runs.append(run_dir)
    try:
        text = write_report(runs, out / "report", None, REPORT_RESAMPLES, REPORT_SEED)
    except BadInputError as exc:
        print(f"blip2-bench: error: the default benchmark's report: {exc}", file=sys.stderr)
        return exc.exit_code
    print(text)
    print(
        f"default benchmark: {len(runs)} pairings in {time.perf_counter() - started:.0f} s; runs in {out}/, "
        f"report in {out / 'report'}/ (report.md, .html, .csv, .json, plots/)\n"
        f"gate it: blip2-bench check --baseline results/baseline --run {out}"
    )
    return 0


def default_main(argv: list[str]) -> int:
    from .minibench.cli import DEFAULT_DATA

    parser = argparse.ArgumentParser(
        prog="blip2-bench default",
        description="The embedded default benchmark (also `blip2-bench` with no arguments): every task on the "
        "generated mini benchmark for the shipped trained pairings, then one comparison report.",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"runs and report (default {DEFAULT_OUT})")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"mini benchmark (default {DEFAULT_DATA})")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides passed to every run, e.g. limit=10")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return run_default(args.out, args.data, args.overrides)
    except ValueError as exc:  # make_minibench refuses a folder it did not write
        print(f"blip2-bench: error: {exc}", file=sys.stderr)
        return 2
