"""The protocol diff: every recorded setting in which runs differ, and which differences forbid comparison.

Metrics are compared only between runs of the same task version on the same sample set with the
same data files (same references): anything else is refused, naming what differs. Every other
difference (prompt, generation, image processing, dtypes, scorer, df convention, versions) is
listed so a reader sees what else changed between the columns.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .runs import Run

ABSENT = "—"
BLOCKING = ("version", "sample_set", "n_predicted", "data_files")
"""Task fields that must be equal for metrics to be compared."""


@dataclass(frozen=True)
class DiffRow:
    section: str
    """"pairing", "numerics", "software", or a task name."""
    key: str
    values: tuple[str, ...]
    """One per run, in the order given."""
    blocking: bool = False


def _flatten(value: Any, prefix: str, out: dict[str, str]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]


def effective_prompt(info: dict[str, Any], family: str | None) -> str | None:
    """The prompt a run used: a task's single prompt, or its family's template."""
    settings = info.get("settings") or {}
    if isinstance(settings.get("prompt"), str):
        return settings["prompt"]
    prompts = settings.get("prompts")
    if isinstance(prompts, dict):
        return prompts.get("all") or prompts.get(str(family))
    return None


def backend_view(run: Run) -> dict[str, dict[str, str]]:
    b = run.backend
    pairing: dict[str, str] = {}
    for key in ("id", "model", "revision", "commit", "family", "num_query_tokens", "stop"):
        if key in b:
            _flatten(b[key], key, pairing)
    if b.get("weights"):
        pairing["weights"] = f"sha256-of-hashes:{_digest(b['weights'])}"
    numerics: dict[str, str] = {}
    for key in ("dtype", "component_dtypes", "device", "device_name", "batch_size", "image_processing"):
        if key in b:
            _flatten(b[key], key, numerics)
    # Which images share a batch (runs from before the option ran in image order).
    numerics["batch_order"] = str((run.results.get("config") or {}).get("batch_order", "image"))
    # The backend's own options (e.g. a plugin's seed or quantization) that the recorded identity
    # above does not already show.
    options = ((run.results.get("config") or {}).get("backend")) or {}
    shown = {key.split(".")[0] for key in (*pairing, *numerics)} | {"name"}
    for key, value in options.items():
        if key not in shown:
            _flatten(value, f"backend.{key}", pairing)
    env = run.results.get("environment") or {}
    software: dict[str, str] = {}
    _flatten(env.get("versions") or {}, "", software)
    if "git_sha" in env:
        software["blip2-bench git"] = str(env["git_sha"])
    return {"pairing": pairing, "numerics": numerics, "software": software}


def task_view(run: Run, task: str) -> dict[str, str]:
    info = run.tasks[task]
    out: dict[str, str] = {}
    for key in ("version", "sample_set", "n_samples", "n_predicted", "metric_impl", "oom_split_samples"):
        if key in info:
            out[key] = str(info[key])
    for role, entry in (info.get("data_files") or {}).items():
        out[f"data_files.{role}"] = str(entry.get("hash") if isinstance(entry, dict) else entry)
    out["skipped_images"] = str(len(info.get("skipped_images") or []))
    settings = dict(info.get("settings") or {})
    prompt = effective_prompt(info, run.backend.get("family"))
    settings.pop("prompts", None)
    settings.pop("prompt", None)
    if prompt is not None:
        out["prompt (as used)"] = prompt
    _flatten(settings, "settings", out)
    if isinstance((info.get("scores") or {}).get("df"), str):
        out["df"] = info["scores"]["df"]
    task_config = ((run.results.get("config") or {}).get("task") or {}).get(task) or {}
    for key in ("split", "source", "scorer"):
        if key in task_config:
            out[f"config.{key}"] = str(task_config[key])
    limit = (run.results.get("config") or {}).get("limit")
    out["limit"] = str(limit)
    return out


def _rows(section: str, views: Sequence[dict[str, str] | None]) -> list[DiffRow]:
    keys: list[str] = []
    for view in views:
        for key in view or {}:
            if key not in keys:
                keys.append(key)
    rows = []
    for key in keys:
        values = tuple(ABSENT if view is None else view.get(key, ABSENT) for view in views)
        present = {v for v, view in zip(values, views, strict=True) if view is not None}
        if len(present) > 1:
            blocking = section not in ("pairing", "numerics", "software") and key.split(".")[0] in BLOCKING
            rows.append(DiffRow(section, key, values, blocking))
    return rows


def protocol_diff(runs: Sequence[Run]) -> list[DiffRow]:
    """Every setting that differs among the runs (a run without a task shows "(not run)" there)."""
    views = [backend_view(r) for r in runs]
    rows: list[DiffRow] = []
    for section in ("pairing", "numerics", "software"):
        rows += _rows(section, [v[section] for v in views])
    tasks: list[str] = []
    for run in runs:
        tasks += [t for t in run.tasks if t not in tasks]
    for task in tasks:
        task_rows = _rows(task, [task_view(r, task) if task in r.tasks else None for r in runs])
        rows += [
            DiffRow(
                row.section,
                row.key,
                tuple("(not run)" if task not in r.tasks else v for r, v in zip(runs, row.values, strict=True)),
                row.blocking,
            )
            for row in task_rows
        ]
    return rows


def refusals(task: str, runs: Sequence[Run]) -> list[str]:
    """Why metrics of `task` cannot be compared across these runs (empty: they can)."""
    have = [r for r in runs if task in r.tasks]
    rows = [row for row in _rows(task, [task_view(r, task) for r in have]) if row.blocking]
    labels = [str(r.path) for r in have]
    return [
        f"{task}: {row.key} differs: "
        + "; ".join(f"{label}: {value}" for label, value in zip(labels, row.values, strict=True))
        for row in rows
    ]
