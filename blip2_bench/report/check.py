"""The quality gate: a run against a committed baseline, metric by metric, tolerance and noise.

A metric FELL when run - baseline < -tolerance and the drop is beyond noise: the paired 95%
bootstrap CI of the difference lies below 0 (both have per-sample records), or, with records on
one side only, the baseline value lies above the run's 95% CI. Without records anywhere the
tolerance alone decides (the table says so). Unusable input (mismatched task versions, sample
sets or data files; a baseline metric the run lacks; unreadable or unfinished runs) is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from .compare import build_report
from .render import _table, fmt
from .runs import Run, UnusableInputError
from .tasks import headline_metrics

PASS, REGRESSION, UNUSABLE = 0, 1, 2


@dataclass(frozen=True)
class Tolerance:
    """Allowed drop: absolute points on the table's scale, or a fraction of the baseline value."""

    default: float = 1.0
    relative: bool = False
    per_metric: tuple[tuple[str, float, bool], ...] = ()
    """(task.metric or metric, amount, relative)."""

    def allowed(self, task: str, metric: str, baseline: float) -> float:
        amount, relative = self.default, self.relative
        for key, value, rel in self.per_metric:
            if key in (f"{task}.{metric}", metric):
                amount, relative = value, rel
        return amount * abs(baseline) if relative else amount


def parse_tolerance(specs: list[str]) -> Tolerance:
    """`1.0` (points), `2%` (of the baseline), `vqav2.accuracy=0.5`, `CIDEr x100=3%`."""
    default, relative, per = 1.0, False, []
    for spec in specs:
        key, _, value = spec.rpartition("=")
        text = value.strip()
        rel = text.endswith("%")
        try:
            amount = float(text.rstrip("%")) / (100 if rel else 1)
        except ValueError:
            raise UnusableInputError(f"--tolerance {spec!r}: expected a number, N% or METRIC=N") from None
        if amount < 0:
            raise UnusableInputError(f"--tolerance {spec!r}: must not be negative")
        if key:
            per.append((key.strip(), amount, rel))
        else:
            default, relative = amount, rel
    return Tolerance(default, relative, tuple(per))


@dataclass(frozen=True)
class Verdict:
    pairing: str
    task: str
    metric: str
    label: str
    baseline: float
    run: float
    delta: float
    ci: tuple[float, float] | None
    noise: str
    allowed: float
    fell: bool

    @property
    def status(self) -> str:
        if self.fell:
            return "FELL"
        if self.delta < -self.allowed:
            return "held (drop within noise)"
        return "rose" if self.delta > self.allowed else "held"


def _missing(baseline: Run, run: Run) -> list[str]:
    out = []
    for task, info in baseline.tasks.items():
        if task not in run.tasks:
            out.append(f"{run.path}: task {task} of the baseline was not run")
            continue
        for m in headline_metrics(task, info["table"]):
            if not isinstance(run.tasks[task]["table"].get(m.key), int | float):
                out.append(f"{run.path}: {task} has no metric {m.key!r} (the baseline has)")
    return out


def check(
    baseline: Run, run: Run, tolerance: Tolerance, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> list[Verdict]:
    missing = _missing(baseline, run)
    if missing:
        raise UnusableInputError("; ".join(missing))
    trimmed = Run(run.path, {**run.results, "tasks": {t: run.tasks[t] for t in baseline.tasks}})
    report = build_report([baseline, trimmed], resamples=resamples, seed=seed)
    base_label, run_label = report.labels
    verdicts = []
    for task in report.tasks:
        paired = {line.metric.key: line.diff for line in task.paired}
        for m in task.metrics:
            b, r = task.cells[base_label][m.key], task.cells[run_label][m.key]
            assert b.value is not None and r.value is not None
            delta, allowed = r.value - b.value, tolerance.allowed(task.task, m.key, b.value)
            ci, noise, beyond = None, "none known: tolerance only", True
            if m.key in paired:
                d = paired[m.key]
                ci, noise, beyond = (d.lo, d.hi), "paired bootstrap", d.hi < 0
            elif r.ci is not None:
                ci, noise, beyond = (r.ci.lo - b.value, r.ci.hi - b.value), "run's CI", b.value > r.ci.hi
            elif b.ci is not None:
                ci, noise, beyond = (r.value - b.ci.hi, r.value - b.ci.lo), "baseline's CI", r.value < b.ci.lo
            verdicts.append(
                Verdict(
                    run.pairing,
                    task.task,
                    m.key,
                    m.label,
                    b.value,
                    r.value,
                    delta,
                    ci,
                    noise,
                    allowed,
                    delta < -allowed and beyond,
                )
            )
    return verdicts


def pair_runs(baselines: list[Run], runs: list[Run]) -> list[tuple[Run, Run]]:
    """One baseline and one run are compared whatever their pairings (a new checkpoint against the old);
    sets of runs (e.g. results/baseline and results/default) are matched by pairing, each baseline
    pairing needing its run."""
    if len(baselines) == 1 and len(runs) == 1:
        return [(baselines[0], runs[0])]
    by_pairing: dict[str, Run] = {}
    for group in (baselines, runs):
        seen: dict[str, Run] = {}
        for r in group:
            if r.pairing in seen:
                raise UnusableInputError(f"{r.path} and {seen[r.pairing].path}: two runs of pairing {r.pairing}")
            seen[r.pairing] = r
        if group is runs:
            by_pairing = seen
    missing = [b for b in baselines if b.pairing not in by_pairing]
    if missing:
        have = ", ".join(sorted(by_pairing)) or "none"
        raise UnusableInputError(
            "; ".join(f"no run of pairing {b.pairing} (baseline {b.path}); runs found: {have}" for b in missing)
        )
    return [(b, by_pairing[b.pairing]) for b in baselines]


def verdict_table(verdicts: list[Verdict]) -> str:
    rows = [
        [
            v.pairing,
            v.task,
            v.label,
            fmt(v.baseline, 2),
            fmt(v.run, 2),
            fmt(v.delta, 2, True),
            "n/a" if v.ci is None else f"[{fmt(v.ci[0], 2, True)}, {fmt(v.ci[1], 2, True)}]",
            v.noise,
            fmt(-v.allowed, 2),
            v.status,
        ]
        for v in sorted(verdicts, key=lambda v: (not v.fell, v.pairing, v.task))
    ]
    header = ["pairing", "task", "metric", "baseline", "run", "Δ", "95% CI of Δ", "noise from", "tolerance", "verdict"]
    return "\n".join(_table(header, rows)) + "\n"


def load_pairs(baseline: Path, run: Path) -> list[tuple[Run, Run]]:
    """Each side a run directory, a results.json, or a folder of run directories."""
    from .runs import find_runs

    return pair_runs(find_runs([baseline]), find_runs([run]))
