"""The journal: every computed batch's outputs, one fsynced JSON line per batch, per stage.

Line format: {"id": <batch key>, "ctx": <stage key>, "outputs": [...]}. The stage key holds
everything that decides outputs apart from the batch itself (backend identity, versions,
task and stage); the batch key holds the batch's members and their content. An entry is
reused only when both match, so scoring-only settings (scorer, SPICE, df convention) never
invalidate outputs, and changed weights, images or prompts always do.

Each rank appends to its own file (journal/<stage>.jsonl, .rank<r>.jsonl). A torn last line
(a crash mid-append) is dropped and cut off; an unreadable line elsewhere is skipped, counted
and reported, and the lines after it are kept. Finished journals are listed in a per-user
index by stage key, so a run whose config differs only in scoring settings, in another run
directory, imports the outputs instead of recomputing them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from ..paths import user_cache_dir

log = logging.getLogger(__name__)


@dataclass
class JournalRead:
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Batch key -> entry, for the stage key asked for (a re-run batch's newer entry wins)."""
    bad_lines: list[str] = field(default_factory=list)
    """"file:line" of each unreadable line that was skipped."""


def _valid(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("id"), str)
        and isinstance(entry.get("ctx"), str)
        and isinstance(entry.get("outputs"), list)
    )


class Journal:
    """One stage's journal inside a run directory."""

    def __init__(self, run_dir: Path, stage: str) -> None:
        self.folder = run_dir / "journal"
        self.stage = stage

    def path(self, rank: int = 0) -> Path:
        # One file per data-parallel rank, so no two processes ever append to the same file.
        return self.folder / (f"{self.stage}.jsonl" if rank == 0 else f"{self.stage}.rank{rank}.jsonl")

    def files(self) -> list[Path]:
        first = self.folder / f"{self.stage}.jsonl"
        ranks = sorted(self.folder.glob(f"{self.stage}.rank*.jsonl")) if self.folder.is_dir() else []
        return [p for p in [first, *ranks] if p.is_file()]

    def read(self, key: str, repair: bool = False) -> JournalRead:
        """Entries of stage key `key` from every rank's file. With `repair`, a torn last line is cut
        off so later appends stay valid; only one process may repair, before any rank appends."""
        out = JournalRead()
        for path in self.files():
            _read_file(path, key, out, repair)
        if out.bad_lines:
            log.warning(
                "journal %s: skipped %d unreadable lines (%s); their batches are recomputed",
                self.stage,
                len(out.bad_lines),
                ", ".join(out.bad_lines[:3]),
            )
        return out

    def append(self, entries: Iterable[dict[str, Any]], rank: int = 0) -> None:
        path = self.path(rank)
        data = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise BadInputError(f"cannot write journal {path}: {exc.strerror or exc}") from None

    def clear(self) -> None:
        for path in self.files():
            path.unlink()

    # --- reuse across run directories -----------------------------------------------------------
    def register(self, key: str) -> None:
        """List this journal under its stage key, for runs elsewhere that need the same outputs."""
        index = _index_file(key)
        me = str(self.path().resolve())
        try:
            known = index.read_text(encoding="utf-8").splitlines() if index.is_file() else []
            if me not in known:
                index.parent.mkdir(parents=True, exist_ok=True)
                with index.open("a", encoding="utf-8") as f:
                    f.write(me + "\n")
        except OSError:  # a read-only cache only costs recomputation elsewhere
            pass

    def import_from_others(self, key: str, wanted: set[str], have: set[str]) -> int:
        """Copy entries of `key` for batches in `wanted` but not in `have` from other registered
        journals into this one (so this run directory stays self-contained); how many were copied."""
        index = _index_file(key)
        if not index.is_file():
            return 0
        me = self.path().resolve()
        copied: dict[str, dict[str, Any]] = {}
        for line in index.read_text(encoding="utf-8").splitlines():
            other = Path(line)
            if other == me or not other.parent.is_dir():
                continue
            found = Journal(other.parent.parent, self.stage).read(key)
            for batch, entry in found.entries.items():
                if batch in wanted and batch not in have and not _has_skips(entry):
                    copied.setdefault(batch, entry)
        if copied:
            self.append(copied.values())
        return len(copied)


def _has_skips(entry: dict[str, Any]) -> bool:
    return any(isinstance(o, dict) and "skipped" in o for o in entry["outputs"])


def _index_file(key: str) -> Path:
    return user_cache_dir() / "journal-index" / f"{key}.txt"


def _read_file(path: Path, key: str, out: JournalRead, repair: bool) -> None:
    good_bytes = 0
    torn = False
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.endswith(b"\n"):
                torn = True  # a crash mid-append: only ever the last line
                break
            good_bytes += len(line)
            try:
                entry = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                out.bad_lines.append(f"{path.name}:{number}")
                continue
            if not _valid(entry):
                out.bad_lines.append(f"{path.name}:{number}")
                continue
            if entry["ctx"] == key:
                out.entries[entry["id"]] = entry
    if repair and torn:
        with path.open("r+b") as f:
            f.truncate(good_bytes)
