"""Build the comparison: rows (pairings) x tasks' headline metrics, with CIs, paired differences,
published references and the protocol diff. Pure data; rendering lives in render.py/html.py."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .bootstrap import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Interval,
    PairedDifference,
    holm,
    percentile_ci,
    point,
    task_seed,
    two_sided_p,
    weight_blocks,
)
from .protocol import DiffRow, backend_view, protocol_diff, refusals
from .published import Reference, references
from .runs import Run, UnusableInputError
from .tasks import Metric, Units, headline_metrics, task_units

log = logging.getLogger(__name__)


class ComparisonRefusedError(UnusableInputError):
    """Runs whose metrics must not be compared (different sample sets, task versions or data)."""


@dataclass
class Cell:
    value: float | None
    ci: Interval | None = None
    ci_reason: str | None = None
    best: bool = False


@dataclass
class PairedLine:
    metric: Metric
    a: str
    b: str
    diff: PairedDifference


@dataclass
class TaskReport:
    task: str
    version: Any
    metrics: list[Metric]
    cells: dict[str, dict[str, Cell]]
    """row label -> metric key -> cell (rows without the task are absent)."""
    n_units: int | None = None
    paired: list[PairedLine] = field(default_factory=list)
    holm: bool = False
    references: dict[str, list[Reference]] = field(default_factory=dict)

    @property
    def primary(self) -> Metric:
        return next((m for m in self.metrics if m.primary), self.metrics[0])


@dataclass
class Report:
    rows: list[Run]
    """One merged run per pairing; `label` attributes in `labels`."""
    labels: list[str]
    tasks: list[TaskReport]
    diff: list[DiffRow]
    reference: str
    resamples: int
    seed: int
    level: float = 0.95


def _identity(run: Run) -> str:
    view = backend_view(run)
    return repr(sorted({**view["pairing"], **view["numerics"]}.items()))


def merge_rows(runs: list[Run]) -> tuple[list[Run], list[str]]:
    """One row per pairing: runs of the same backend (weights, dtype, ...) with disjoint tasks merge."""
    groups: list[list[Run]] = []
    for run in runs:
        for group in groups:
            if _identity(group[0]) == _identity(run) and not any(set(g.tasks) & set(run.tasks) for g in group):
                group.append(run)
                break
        else:
            groups.append([run])
    rows = []
    for group in groups:
        first = group[0]
        merged = {**first.results, "tasks": {t: i for r in group for t, i in r.tasks.items()}}
        config = dict(first.results.get("config") or {})
        config["task"] = {t: c for r in group for t, c in ((r.results.get("config") or {}).get("task") or {}).items()}
        merged["config"] = config
        rows.append(Run(first.path, merged, sources={t: r for r in group for t in r.tasks}))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.pairing] = counts.get(row.pairing, 0) + 1
    labels = [row.pairing if counts[row.pairing] == 1 else f"{row.pairing} ({row.path.name})" for row in rows]
    labels = [label if labels.index(label) == k else f"{label} #{k + 1}" for k, label in enumerate(labels)]
    return rows, labels


def _align(units: Units, ids: list[str]) -> Units:
    if units.ids == ids:
        return units
    raise ComparisonRefusedError("sample ids of the runs' samples/*.jsonl differ although their sample sets agree")


def _task_report(task: str, rows: list[Run], labels: list[str], ref: int, resamples: int, seed: int) -> TaskReport:
    present = [k for k, row in enumerate(rows) if task in row.tasks]
    tables = {k: rows[k].tasks[task]["table"] for k in present}
    metrics = headline_metrics(task, tables[present[0]])
    report = TaskReport(task, rows[present[0]].tasks[task].get("version"), metrics, {})
    units: dict[int, Units | None] = {k: task_units(task, rows[k].tasks[task], rows[k].samples(task)) for k in present}
    with_units = [k for k in present if units[k] is not None]
    if with_units:
        ids = units[with_units[0]].ids  # type: ignore[union-attr]
        for k in with_units:
            units[k] = _align(units[k], ids)  # type: ignore[arg-type]
        report.n_units = len(ids)
    # One pass over the resamples for every (row, metric): CIs and paired differences share draws.
    keys = [(k, m.key) for k in with_units for m in metrics if m.key in units[k].stats]  # type: ignore[union-attr]
    draws: dict[tuple[int, str], list[np.ndarray]] = {key: [] for key in keys}
    if keys and resamples > 0:
        first = units[with_units[0]]
        for w in weight_blocks(report.n_units or 0, resamples, task_seed(seed, task), first.strata):  # type: ignore[union-attr]
            for k, key in keys:
                draws[(k, key)].append(units[k].stats[key](w))  # type: ignore[union-attr]
    replicates = {key: np.concatenate(parts) for key, parts in draws.items() if parts}
    for k in present:
        cells: dict[str, Cell] = {}
        for m in metrics:
            value = tables[k].get(m.key)
            cell = Cell(float(value) if isinstance(value, int | float) else None)
            if (k, m.key) in replicates:
                lo, hi = percentile_ci(replicates[(k, m.key)])
                cell.ci = Interval(cell.value if cell.value is not None else float("nan"), lo, hi, resamples)
            elif units[k] is None:
                cell.ci_reason = f"no samples/{task}.jsonl with per-sample scores"
            else:
                cell.ci_reason = units[k].missing.get(m.key, "no interval for this metric")  # type: ignore[union-attr]
            cells[m.key] = cell
        report.cells[labels[k]] = cells
    for m in metrics:  # best = highest as printed; nothing is marked when all printed values tie
        shown = {
            label: round(c[m.key].value, m.decimals) for label, c in report.cells.items() if c[m.key].value is not None
        }
        if len(set(shown.values())) > 1:
            top = max(shown.values())
            for label, value in shown.items():
                report.cells[label][m.key].best = value == top
    if ref in with_units:
        for k in with_units:
            if k == ref:
                continue
            for m in metrics:
                if (k, m.key) in replicates and (ref, m.key) in replicates:
                    n = report.n_units or 0
                    deltas = replicates[(k, m.key)] - replicates[(ref, m.key)]
                    lo, hi = percentile_ci(deltas)
                    delta = point(units[k].stats[m.key], n) - point(units[ref].stats[m.key], n)  # type: ignore[union-attr]
                    report.paired.append(
                        PairedLine(
                            m, labels[ref], labels[k], PairedDifference(delta, lo, hi, two_sided_p(deltas), resamples)
                        )
                    )
    primary_lines = [line for line in report.paired if line.metric.primary]
    if len(primary_lines) > 1:  # more than two pairings: Holm over this task's comparisons with the reference
        report.holm = True
        adjusted = holm([line.diff.p for line in primary_lines])
        for line, p in zip(primary_lines, adjusted, strict=True):
            line.diff = PairedDifference(
                line.diff.delta, line.diff.lo, line.diff.hi, line.diff.p, line.diff.resamples, p
            )
    for k in present:
        report.references[labels[k]] = references(rows[k], task)
    return report


def build_report(
    runs: list[Run], baseline: Path | None = None, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> Report:
    """The comparison of `runs`; refuses (ComparisonRefusedError) runs whose tasks cannot be compared."""
    rows, labels = merge_rows(runs)
    ref = 0
    if baseline is not None:
        target = Path(baseline).resolve()
        target = target.parent if target.is_file() else target
        matches = [k for k, row in enumerate(rows) if any(r.path.resolve() == target for r in row.sources.values())]
        if not matches:
            raise UnusableInputError(f"{baseline}: the baseline is not among the runs reported")
        ref = matches[0]
    tasks: list[str] = []
    for row in rows:
        tasks += [t for t in row.tasks if t not in tasks]
    reasons = [
        reason for task in tasks for reason in refusals(task, [r.sources.get(task, r) for r in rows if task in r.tasks])
    ]
    if reasons:
        raise ComparisonRefusedError("refusing to compare metrics:\n  " + "\n  ".join(reasons))
    reports = [_task_report(task, rows, labels, ref, resamples, seed) for task in tasks]
    return Report(rows, labels, reports, protocol_diff(rows), labels[ref], resamples, seed)
