"""Run the CLI and SIGKILL this very process at a chosen point (used by the crash tests).

Usage: python _kill_harness.py POINT N -- <blip2-bench args>
POINT: before-append (the N-th journal append never happens), torn-append (half of the N-th
append is written), results-rename (results.json written to its temporary name, not renamed),
before-complete (all final files written, COMPLETE not yet).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from blip2_bench import files
from blip2_bench.cli import main
from blip2_bench.runner import journal, rundir


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def install(point: str, n: int) -> None:
    calls = {"append": 0}
    real_append = journal.Journal.append
    real_write = files.atomic_write
    real_complete = rundir.RunDir.mark_complete

    def append(self, entries, rank=0):
        calls["append"] += 1
        if calls["append"] == n:
            if point == "before-append":
                _die()
            if point == "torn-append":
                entries = list(entries)
                path = self.path(rank)
                path.parent.mkdir(parents=True, exist_ok=True)
                text = "".join(json.dumps(e) + "\n" for e in entries)
                with path.open("a") as f:
                    f.write(text[: len(text) // 2])
                    f.flush()
                    os.fsync(f.fileno())
                _die()
        return real_append(self, entries, rank)

    def write(path: Path, write_fn) -> None:
        if point == "results-rename" and path.name == "results.json":
            tmp = path.with_name(f".{path.name}.tmp")
            with tmp.open("wb") as f:
                write_fn(f)
            _die()
        real_write(path, write_fn)

    def complete(self):
        if point == "before-complete":
            _die()
        real_complete(self)

    journal.Journal.append = append
    files.atomic_write = write
    rundir.RunDir.mark_complete = complete


if __name__ == "__main__":
    point, n, sep, *args = sys.argv[1:]
    assert sep == "--"
    install(point, int(n))
    sys.exit(main(args))
