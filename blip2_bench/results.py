"""results.json (scores + provenance), table.md and table.csv; written atomically, then COMPLETE."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from .files import atomic_write_json, atomic_write_text
from .provenance import environment
from .runner.rundir import RunDir

RESULTS_FORMAT = 1


COLUMNS = ["backend", "task", "task_version", "metric", "value", "coverage"]


def results_table(results: dict[str, Any]) -> pd.DataFrame:
    backend = results["backend"]["id"]
    rows = [
        {
            "backend": backend,
            "task": task,
            "task_version": info["version"],
            "metric": metric,
            "value": value,
            "coverage": info.get("coverage", "all"),
        }
        for task, info in results["tasks"].items()
        for metric, value in info["table"].items()
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def console_summary(results: dict[str, Any]) -> str:
    """What a person reads after a run: the table (2 decimals), and for a task without scores
    (e.g. VQAv2 test-dev) where its exported answers are."""
    table = results_table(results)
    lines = [table.to_string(index=False, formatters={"value": _cell})] if len(table) else []
    for task, info in results["tasks"].items():
        if not info["table"]:
            exports = [f for f in info.get("files", []) if f.startswith("exports/")]
            lines.append(f"{task}: no scores for this split; answers exported to {', '.join(exports) or 'samples/'}")
    return "\n".join(lines)


def write_results(
    run_dir: RunDir, config: dict[str, Any], backend: dict[str, Any], tasks: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    results = {
        "format": RESULTS_FORMAT,
        "complete": True,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "backend": backend,
        "tasks": tasks,
        "config": config,
        "environment": environment(),
    }
    table = results_table(results)
    atomic_write_text(run_dir.path / "table.csv", table.to_csv(index=False))
    atomic_write_text(run_dir.path / "table.md", markdown_table(table))
    atomic_write_json(run_dir.path / "results.json", results)
    run_dir.mark_complete()  # last: only now does the run count as finished
    return results


def markdown_table(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    lines = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *lines]) + "\n"


def _cell(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)
