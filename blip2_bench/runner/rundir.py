"""The run directory: one writer (a lock), the config it holds, final files, completion marker.

Final files are written to unique temporary names and renamed, and COMPLETE is written
last, so a crash never leaves a run that looks finished. The journal lives in journal/
(see journal.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
from pathlib import Path
from typing import IO, Any

from ..errors import BadInputError
from ..files import atomic_write, atomic_write_json, atomic_write_text

CONFIG_FILE = "run_config.json"
COMPLETE_FILE = "COMPLETE"
LOCK_FILE = ".lock"
FINAL_FILES = (COMPLETE_FILE, "results.json", "table.md", "table.csv")


def _first_difference(a: Any, b: Any, prefix: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key, "<absent>") != b.get(key, "<absent>"):
                return _first_difference(a.get(key, "<absent>"), b.get(key, "<absent>"), f"{prefix}{key}.")
    return f"{prefix.rstrip('.')}: {a!r} here vs {b!r} requested"


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock: IO[str] | None = None

    def acquire(self) -> None:
        """Become the run directory's only writer, or fail naming the process that is."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            lock = (self.path / LOCK_FILE).open("a+", encoding="utf-8")
        except OSError as exc:
            raise BadInputError(f"cannot use run directory {self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            lock.close()
            raise BadInputError(
                f"run directory {self.path} is in use by {holder}; wait for it or choose another hydra.run.dir"
            ) from None
        started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        try:
            lock.seek(0)
            lock.truncate()
            lock.write(f"pid {os.getpid()} on {socket.gethostname()} since {started}\n")
            lock.flush()
        except OSError as exc:  # e.g. a full disk: one line, not a traceback
            with contextlib.suppress(OSError):  # closing (which releases the flock) flushes again
                lock.close()
            raise BadInputError(f"cannot write {self.path / LOCK_FILE}: {exc.strerror or exc}") from None
        self._lock = lock  # held (flock) until release() or the process exits

    def release(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def lock_config(self, config: dict[str, Any]) -> None:
        """Claim the directory for this config; refuse one that holds a different config."""
        lock = self.path / CONFIG_FILE
        if lock.is_file():
            try:
                held = json.loads(lock.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise BadInputError(f"run directory {self.path}: unreadable {CONFIG_FILE}: {exc}") from None
            if held != config:
                raise BadInputError(
                    f"run directory {self.path} holds a different config "
                    f"({_first_difference(held, config)}); choose another hydra.run.dir"
                )
            return
        atomic_write_json(lock, config)

    @property
    def complete(self) -> bool:
        return (self.path / COMPLETE_FILE).is_file()

    def clear_final(self) -> None:
        """Forget a finished run's final files; COMPLETE goes first."""
        for name in FINAL_FILES:
            (self.path / name).unlink(missing_ok=True)

    def mark_complete(self) -> None:
        atomic_write_text(self.path / COMPLETE_FILE, "complete\n")

    def write_samples(self, task: str, records: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        atomic_write_text(self.path / "samples" / f"{task}.jsonl", text)

    def write_arrays(self, name: str, **arrays: Any) -> None:
        """An .npz under exports/, written to a temporary name and renamed."""
        import numpy as np

        atomic_write(self.path / "exports" / name, lambda f: np.savez(f, **arrays))

    def write_exports(self, files: dict[str, Any]) -> None:
        for name, value in files.items():
            atomic_write_json(self.path / "exports" / name, value)
