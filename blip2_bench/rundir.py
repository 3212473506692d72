"""The run directory: config lock, per-batch journal, atomic final files, completion marker.

Crash safety: raw outputs are appended to journal/<task>.jsonl one batch per write and
fsynced; a torn last line is dropped on resume. Final files are written to a temporary
name and renamed, and COMPLETE is written last, so a crash never leaves a run that looks
finished.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import BadInputError

CONFIG_FILE = "run_config.json"
COMPLETE_FILE = "COMPLETE"


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: Path, value: Any) -> None:
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=False) + "\n")


def _first_difference(a: Any, b: Any, prefix: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key, "<absent>") != b.get(key, "<absent>"):
                return _first_difference(a.get(key, "<absent>"), b.get(key, "<absent>"), f"{prefix}{key}.")
    return f"{prefix.rstrip('.')}: {a!r} here vs {b!r} requested"


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = path

    def lock_config(self, config: dict[str, Any]) -> None:
        """Claim the directory for this config; refuse one that holds a different config."""
        self.path.mkdir(parents=True, exist_ok=True)
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
        """Forget a finished run's final files (for fresh=true); COMPLETE goes first."""
        for name in (COMPLETE_FILE, "results.json", "table.md", "table.csv"):
            (self.path / name).unlink(missing_ok=True)

    def mark_complete(self) -> None:
        atomic_write_text(self.path / COMPLETE_FILE, "complete\n")

    # --- journal ---------------------------------------------------------------------------
    def journal_path(self, task: str, rank: int = 0) -> Path:
        # One file per data-parallel rank, so no two processes ever append to the same file.
        return self.path / "journal" / (f"{task}.jsonl" if rank == 0 else f"{task}.rank{rank}.jsonl")

    def journal_files(self, task: str) -> list[Path]:
        folder = self.path / "journal"
        return [p for p in [folder / f"{task}.jsonl", *sorted(folder.glob(f"{task}.rank*.jsonl"))] if p.is_file()]

    def read_journal(
        self, task: str, accept: Callable[[dict[str, Any]], bool] | None = None, repair: bool = True
    ) -> dict[str, dict[str, Any]]:
        """Entries by id from every rank's file (the last one wins), keeping those `accept` passes.

        A torn last line (a crash mid-append) is skipped, and with `repair` cut off the file so
        later appends stay valid; only one process may repair, before any rank appends.
        """
        entries: dict[str, dict[str, Any]] = {}
        for path in self.journal_files(task):
            good_bytes = 0
            with path.open("rb") as f:
                for line in f:
                    if not line.endswith(b"\n"):
                        break
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError:
                        break
                    good_bytes += len(line)
                    if accept is None or accept(entry):
                        entries[entry["id"]] = entry  # a re-run batch's newer entry wins
            if repair and good_bytes != path.stat().st_size:
                with path.open("r+b") as f:
                    f.truncate(good_bytes)
        return entries

    def clear_journal(self, task: str) -> None:
        for path in self.journal_files(task):
            path.unlink()

    def append_journal(self, task: str, entries: Iterable[dict[str, Any]], rank: int = 0) -> None:
        path = self.journal_path(task, rank)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
        with path.open("a", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    # --- final files -----------------------------------------------------------------------
    def write_samples(self, task: str, records: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        atomic_write_text(self.path / "samples" / f"{task}.jsonl", text)

    def write_arrays(self, name: str, **arrays: Any) -> None:
        """An .npz under exports/, written to a temporary name and renamed."""
        import numpy as np

        path = self.path / "exports" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def write_exports(self, files: dict[str, Any]) -> None:
        for name, value in files.items():
            atomic_write_json(self.path / "exports" / name, value)
