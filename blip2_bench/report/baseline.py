"""`blip2-bench save-baseline RUN_OR_FOLDER DEST`: keep what `check` needs of finished runs, for committing.

A baseline is the runs' results.json, COMPLETE, table.md and per-sample records (samples/: the paired
bootstrap needs them), one folder per pairing; journals, exports and logs stay behind (large, and
nothing the gate reads). DEST is replaced only once the copy is whole.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import uuid
from pathlib import Path

from ..errors import BadInputError
from .runs import COMPLETE, RESULTS, find_runs

KEPT = (RESULTS, "table.md", "samples")


def save_baseline(source: Path, dest: Path) -> list[Path]:
    runs = find_runs([source])
    names = [r.pairing for r in runs]
    if len(set(names)) != len(names):
        raise BadInputError(f"{source}: two runs of one pairing ({', '.join(names)}); give one run per pairing")
    single = len(runs) == 1 and runs[0].path.resolve() == source.resolve()  # one run: DEST is that run
    subfolders = ["."] if single else names
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        for run, sub in zip(runs, subfolders, strict=True):
            folder = tmp / sub
            folder.mkdir(parents=True, exist_ok=True)
            for name in KEPT:
                src = run.path / name
                if src.is_dir():
                    shutil.copytree(src, folder / name)
                elif src.is_file():
                    shutil.copy2(src, folder / name)
            (folder / COMPLETE).write_text("complete\n", encoding="utf-8")  # last: the folder is whole
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BadInputError(f"cannot write baseline {dest}: {exc.strerror or exc}") from None
    return [dest / sub for sub in subfolders]


def save_baseline_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="blip2-bench save-baseline",
        description="Copy what `blip2-bench check` needs of finished runs into DEST (one folder per pairing), "
        "e.g. `blip2-bench save-baseline results/default results/baseline` after a deliberate quality change.",
    )
    parser.add_argument("source", type=Path, help="a run directory or a folder of runs (e.g. results/default)")
    parser.add_argument("dest", type=Path, help="the baseline folder to (re)write (e.g. results/baseline)")
    args = parser.parse_args(argv)
    try:
        saved = save_baseline(args.source, args.dest)
    except BadInputError as exc:
        print(f"blip2-bench save-baseline: error: {exc}", file=sys.stderr)
        return 2
    print(f"baseline written: {', '.join(str(p) for p in saved)}")
    return 0
