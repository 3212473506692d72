"""`blip2-bench report RUN_OR_SWEEP_DIR... [--out DIR] [--baseline RUN] [--diff A B]` and `blip2-bench check`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from ..errors import BadInputError
from ..files import atomic_write, atomic_write_text
from .bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from .check import PASS, REGRESSION, UNUSABLE, check, load_pairs, parse_tolerance, verdict_table
from .compare import build_report
from .html import html_page
from .protocol import protocol_diff
from .render import csv_text, diff_markdown, json_data, markdown
from .runs import find_runs, load_run

log = logging.getLogger(__name__)


def _write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def atomic_write_json(path: Path, value: object) -> None:
    atomic_write_text(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES, help="bootstrap resamples (default 2000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="bootstrap seed (fixed by default)")


def write_report(paths: list[Path], out: Path, baseline: Path | None, resamples: int, seed: int) -> str:
    """Build the report of run/sweep directories, write every file under `out`, return the Markdown."""
    from .plots import all_plots

    runs = find_runs(paths + ([baseline] if baseline is not None else []))
    unique = {r.path.resolve(): r for r in runs}
    started = time.perf_counter()
    report = build_report(list(unique.values()), baseline=baseline, resamples=resamples, seed=seed)
    log.info("bootstrap (%d resamples) and report in %.2f s", resamples, time.perf_counter() - started)
    text = markdown(report)
    plots = all_plots(report)
    for name, (png, _) in plots.items():
        _write_bytes(out / "plots" / name, png)
    atomic_write_json(out / "plots" / "plots.json", {name: data for name, (_, data) in plots.items()})
    atomic_write_text(out / "report.md", text)
    atomic_write_text(out / "report.csv", csv_text(report))
    atomic_write_json(out / "report.json", json_data(report))
    atomic_write_text(out / "report.html", html_page(report, {name: png for name, (png, _) in plots.items()}))
    return text


def report_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="blip2-bench report",
        description="Compare pairings: one table of headline metrics with bootstrap CIs, paired differences, "
        "published numbers and the protocol diff (Markdown, CSV, JSON, HTML, PNG). Reads run directories only.",
    )
    parser.add_argument("runs", nargs="*", type=Path, help="run directories, results.json files or sweep directories")
    parser.add_argument(
        "--out", type=Path, help="output folder (default: <the one directory given>/report, or ./report)"
    )
    parser.add_argument("--baseline", type=Path, help="the run the paired differences are taken against")
    parser.add_argument(
        "--diff", nargs=2, type=Path, metavar=("A", "B"), help="print only the protocol diff of A and B"
    )
    _common(parser)
    args = parser.parse_args(argv)
    try:
        if args.diff:
            a, b = (load_run(p) for p in args.diff)
            print(diff_markdown(protocol_diff([a, b]), [str(p) for p in args.diff]), end="")
            return 0
        if not args.runs:
            parser.error("give at least one run or sweep directory (or --diff A B)")
        if args.resamples < 0:
            parser.error("--resamples must be >= 0")
        out = args.out or (args.runs[0] / "report" if len(args.runs) == 1 and args.runs[0].is_dir() else Path("report"))
        print(write_report(args.runs, out, args.baseline, args.resamples, args.seed))
        print(f"report written to {out}/ (report.md, report.csv, report.json, report.html, plots/)")
        return 0
    except BadInputError as exc:
        print(f"blip2-bench report: error: {exc}", file=sys.stderr)
        return 2


def check_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="blip2-bench check",
        description="Gate a run against a baseline run: exit 0 when every headline metric held, 1 when one fell "
        "beyond the tolerance and beyond noise, 2 on unusable input.",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        required=True,
        help="baseline run directory, its results.json, or a folder of runs (matched to --run's by pairing)",
    )
    parser.add_argument("--run", type=Path, required=True, help="the run directory (or folder of runs) to check")
    parser.add_argument(
        "--tolerance",
        action="append",
        default=[],
        metavar="T",
        help="allowed drop: points on the table's scale (default 1.0), N%% of the baseline, or per metric "
        "TASK.METRIC=T (e.g. vqav2.accuracy=0.5, 'coco_caption.CIDEr x100=2%%'); repeatable",
    )
    parser.add_argument("--json", type=Path, help="also write the verdicts here")
    _common(parser)
    args = parser.parse_args(argv)
    try:
        tolerance = parse_tolerance(args.tolerance)
        verdicts = [
            v
            for baseline, run in load_pairs(args.baseline, args.run)
            for v in check(baseline, run, tolerance, args.resamples, args.seed)
        ]
    except BadInputError as exc:
        print(f"blip2-bench check: unusable input: {exc}", file=sys.stderr)
        return UNUSABLE
    print(verdict_table(verdicts), end="")
    fell = [v for v in verdicts if v.fell]
    if args.json:
        atomic_write_json(
            args.json, {"passed": not fell, "verdicts": [{**v.__dict__, "status": v.status} for v in verdicts]}
        )
    if fell:
        print(
            f"REGRESSION: {len(fell)} of {len(verdicts)} metrics fell: "
            + ", ".join(f"{v.pairing} {v.task} {v.label}" for v in fell)
        )
        return REGRESSION
    print(f"PASS: all {len(verdicts)} metrics held (baseline {args.baseline})")
    return PASS


if __name__ == "__main__":  # python -m blip2_bench.report.cli report|check ...
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    command, *rest = sys.argv[1:] or ["report"]
    sys.exit({"report": report_main, "check": check_main}[command](rest))
