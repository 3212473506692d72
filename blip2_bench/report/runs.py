"""Reading run directories (or a bare results.json) for reports and gates: unusable input fails loudly."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import BadInputError

log = logging.getLogger(__name__)

RESULTS = "results.json"
COMPLETE = "COMPLETE"


class UnusableInputError(BadInputError):
    """A run directory or file the report cannot use (exit 2); the message names the file."""


@dataclass
class Run:
    """One finished run: its results.json and, lazily, its per-sample records."""

    path: Path
    results: dict[str, Any]
    sources: dict[str, Run] = field(default_factory=dict, repr=False)
    """For a row merged from several runs of one pairing: the run each task came from."""
    _samples: dict[str, list[dict[str, Any]] | None] = field(default_factory=dict, repr=False)

    @property
    def backend(self) -> dict[str, Any]:
        return self.results.get("backend") or {}

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        return self.results.get("tasks") or {}

    def task_path(self, task: str) -> Path:
        return self.sources[task].path if task in self.sources else self.path

    @cached_property
    def pairing(self) -> str:
        return str(self.backend.get("id") or self.backend.get("name") or self.path.name)

    def samples(self, task: str) -> list[dict[str, Any]] | None:
        """samples/<task>.jsonl as records, or None when the run has none (e.g. a bare results.json)."""
        if task in self.sources:
            return self.sources[task].samples(task)
        if task not in self._samples:
            self._samples[task] = _read_samples(self.path / "samples" / f"{task}.jsonl")
        return self._samples[task]


def _read_samples(path: Path) -> list[dict[str, Any]] | None:
    if not path.is_file():
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UnusableInputError(f"{path}: unreadable: {exc}") from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UnusableInputError(f"{path}: line {number} is not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or "id" not in record:
            raise UnusableInputError(f'{path}: line {number} is not a sample record (no "id")')
        records.append(record)
    return records


def _check_results(path: Path, results: Any) -> dict[str, Any]:
    if not isinstance(results, dict):
        raise UnusableInputError(f"{path}: not a results object (a JSON {type(results).__name__})")
    if not results.get("complete"):
        raise UnusableInputError(f'{path}: the run is not complete ("complete" is not true)')
    tasks = results.get("tasks")
    if not isinstance(tasks, dict) or not tasks:
        raise UnusableInputError(f'{path}: no "tasks" object')
    for name, info in tasks.items():
        if not isinstance(info, dict) or not isinstance(info.get("table"), dict) or "version" not in info:
            raise UnusableInputError(f'{path}: tasks.{name} lacks "version" or a "table" object')
    if not isinstance(results.get("backend"), dict):
        raise UnusableInputError(f'{path}: no "backend" object')
    return results


def load_run(path: Path) -> Run:
    """A run directory holding COMPLETE and results.json, or a results.json file itself."""
    path = Path(path)
    if path.is_file():
        results_path, run_path = path, path.parent
        if path.name == RESULTS and not (run_path / COMPLETE).is_file() and (run_path / "samples").is_dir():
            raise UnusableInputError(f"{run_path}: no {COMPLETE} marker: the run did not finish")
    elif path.is_dir():
        results_path, run_path = path / RESULTS, path
        if not (path / COMPLETE).is_file():
            raise UnusableInputError(f"{path}: no {COMPLETE} marker: not a finished run directory")
    else:
        raise UnusableInputError(f"{path}: no such run directory or results file")
    try:
        results = json.loads(results_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UnusableInputError(f"{results_path}: missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UnusableInputError(f"{results_path}: unreadable: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UnusableInputError(f"{results_path}: malformed JSON ({exc.msg}, line {exc.lineno})") from None
    return Run(run_path, _check_results(results_path, results))


def find_runs(paths: list[Path]) -> list[Run]:
    """Each path is a run directory, a results.json, or a sweep directory holding run directories."""
    runs: list[Run] = []
    for path in map(Path, paths):
        if path.is_dir() and not (path / RESULTS).exists() and not (path / COMPLETE).exists():
            found = sorted({p.parent for p in path.rglob(COMPLETE)} | {p.parent for p in path.rglob(RESULTS)})
            if not found:
                raise UnusableInputError(f"{path}: holds no run directory (no {RESULTS} below it)")
            log.info("%s: %d run directories", path, len(found))
            runs += [load_run(p) for p in found]
        else:
            runs.append(load_run(path))
    return runs
