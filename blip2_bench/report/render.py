"""The report as Markdown (printed), CSV (one row per pairing, task and metric) and JSON."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from .compare import Cell, PairedLine, Report, TaskReport
from .protocol import DiffRow
from .tasks import Metric

UNITS = {"vqav2": "questions", "coco_caption": "images", "nocaps": "images"}


def fmt(value: float | None, decimals: int = 1, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    text = f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"
    if float(text) == 0:  # no "-0.0"
        text = ("+" if signed else "") + f"{0:.{decimals}f}"
    return text


def fmt_p(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "n/a"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}" if p < 0.01 else f"{p:.2f}"


def p_text(p: float | None) -> str:
    text = fmt_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def cell_text(cell: Cell | None, metric: Metric, markdown: bool = True) -> str:
    if cell is None:
        return "—"  # the pairing did not run this task (the legend says so)
    value = fmt(cell.value, metric.decimals)
    if markdown and cell.best:
        value = f"**{value}**"
    if cell.ci is not None:
        value += f" [{fmt(cell.ci.lo, metric.decimals)}, {fmt(cell.ci.hi, metric.decimals)}]"
    return value


def column_label(task: TaskReport, metric: Metric) -> str:
    return f"{task.task} {metric.label}" + (" ★" if metric.primary else "")


def paired_text(line: PairedLine) -> str:
    d, m = line.diff, line.metric
    lo, hi = fmt(d.lo, m.decimals, True), fmt(d.hi, m.decimals, True)
    text = f"{line.b} − {line.a} = {fmt(d.delta, m.decimals, True)} [{lo}, {hi}]"
    if d.p_adjusted is not None:
        return text + f", {p_text(d.p_adjusted)} (Holm; unadjusted {fmt_p(d.p)})"
    return text + f", {p_text(d.p)}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    esc = [[str(c).replace("|", "\\|") for c in row] for row in [header, *rows]]
    return ["| " + " | ".join(esc[0]) + " |", "|" + "|".join("---" for _ in header) + "|"] + [
        "| " + " | ".join(r) + " |" for r in esc[1:]
    ]


def diff_markdown(diff: Sequence[DiffRow], labels: Sequence[str]) -> str:
    if not diff:
        return "The runs agree on every recorded setting.\n"
    rows = [[row.section, row.key + (" (blocks comparison)" if row.blocking else ""), *row.values] for row in diff]
    return "\n".join(_table(["section", "setting", *labels], rows)) + "\n"


def legend(report: Report) -> str:
    return (
        f"Values as the BLIP-2 paper prints them (one decimal; captions x100, VQA and retrieval in %); ★ = primary "
        f"metric; **bold** = best in its column; — = not run; [lo, hi] = {round(report.level * 100)}% bootstrap CI "
        f"({report.resamples} resamples, seed {report.seed}; captions: CIDEr-D document frequencies fixed at the "
        f"evaluated set's, BLEU/METEOR recomputed from per-image sufficient statistics)."
    )


def _published_rows(task: TaskReport) -> list[list[str]]:
    rows = []
    for label, refs in task.references.items():
        measured = task.cells[label]
        for ref in refs:
            if not ref.matched:
                rows.append([label, ref.source, f"not comparable: {ref.reason}"] + [""] * (len(task.metrics) - 1))
                continue
            cells = []
            for m in task.metrics:
                if m.key in ref.values:
                    pub, got = ref.values[m.key], measured[m.key].value
                    delta = None if got is None else got - pub
                    cells.append(f"{fmt(pub, m.decimals)} (Δ {fmt(delta, m.decimals, True)})")
                else:
                    cells.append("—")
            rows.append([label, ref.source, *cells])
    return rows


def markdown(report: Report) -> str:
    columns = [(t, m) for t in report.tasks for m in t.metrics]
    header = ["pairing", *(column_label(t, m) for t, m in columns)]
    body = [[label, *(cell_text(t.cells.get(label, {}).get(m.key), m) for t, m in columns)] for label in report.labels]
    out = ["# blip2-bench comparison", "", *_table(header, body), "", legend(report), ""]
    for task in report.tasks:
        unit = UNITS.get(task.task, "images")
        out += [f"## {task.task} (task version {task.version}, {task.n_units or '?'} {unit} resampled)", ""]
        primary = [line for line in task.paired if line.metric.primary]
        if primary:
            out.append(f"Paired difference of {task.primary.label} (same {unit}, paired bootstrap):")
            out += [f"- {paired_text(line)}" for line in primary]
            if task.holm:
                out.append(f"- p-values Holm-adjusted over the {len(primary)} comparisons with {report.reference}.")
            out.append("")
        missing = sorted(
            {
                f"{m.label}: {c.ci_reason}"
                for cells in task.cells.values()
                for m in task.metrics
                if (c := cells[m.key]).ci is None and c.ci_reason
            }
        )
        if missing:
            out += [f"No interval for {', '.join(missing)}.", ""]
        refs = [(label, ref) for label, refs in task.references.items() for ref in refs]
        if refs and not any(ref.matched for _, ref in refs):  # nothing to put beside: say why, briefly
            out += ["No published number to compare with:", ""]
            out += [f"- {label} ({ref.source}): {ref.reason}" for label, ref in refs] + [""]
        elif refs:
            out += ["Published numbers (Δ = measured − published):", ""]
            out += _table(["pairing", "source", *(m.label for m in task.metrics)], _published_rows(task)) + [""]
    out += ["## Protocol diff", "", diff_markdown(report.diff, report.labels)]
    return "\n".join(out)


def csv_text(report: Report) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        [
            "pairing",
            "task",
            "task_version",
            "metric",
            "label",
            "primary",
            "value",
            "ci_lo",
            "ci_hi",
            "best",
            "paper",
            "delta_paper",
            "lavis",
            "delta_lavis",
            "published_note",
        ]
    )
    for task in report.tasks:
        for label, cells in task.cells.items():
            refs = {r.source: r for r in task.references.get(label, [])}
            notes = "; ".join(f"{r.source}: {r.reason}" for r in refs.values() if not r.matched)
            for m in task.metrics:
                c = cells[m.key]
                row: list[Any] = [
                    label,
                    task.task,
                    task.version,
                    m.key,
                    m.label,
                    int(m.primary),
                    c.value,
                    c.ci.lo if c.ci else "",
                    c.ci.hi if c.ci else "",
                    int(c.best),
                ]
                for source in ("paper", "lavis"):
                    ref = refs.get(source)
                    pub = ref.values.get(m.key) if ref is not None and ref.matched else None
                    row += ["" if pub is None else pub, "" if pub is None or c.value is None else c.value - pub]
                writer.writerow([*row, notes])
    return buf.getvalue()


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def json_data(report: Report) -> dict[str, Any]:
    return _clean(
        {
            "format": 1,
            "bootstrap": {
                "resamples": report.resamples,
                "seed": report.seed,
                "level": report.level,
                "cider_document_frequencies": "fixed at the evaluated set's",
                "p_value": "two-sided paired bootstrap; Holm-adjusted per task when more than two pairings",
            },
            "reference_pairing": report.reference,
            "pairings": [
                {
                    "label": label,
                    "backend": row.backend.get("id"),
                    "model": row.backend.get("model"),
                    "runs": {t: str(row.task_path(t)) for t in row.tasks},
                }
                for label, row in zip(report.labels, report.rows, strict=True)
            ],
            "tasks": [
                {
                    "task": t.task,
                    "version": t.version,
                    "units": t.n_units,
                    "holm": t.holm,
                    "metrics": [asdict(m) for m in t.metrics],
                    "cells": {
                        label: {
                            k: {
                                "value": c.value,
                                "ci": [c.ci.lo, c.ci.hi] if c.ci else None,
                                "ci_reason": c.ci_reason,
                                "best": c.best,
                            }
                            for k, c in cells.items()
                        }
                        for label, cells in t.cells.items()
                    },
                    "paired": [
                        {
                            "metric": line.metric.key,
                            "a": line.a,
                            "b": line.b,
                            **asdict(line.diff),
                            "text": paired_text(line),
                        }
                        for line in t.paired
                    ],
                    "published": {label: [asdict(r) for r in refs] for label, refs in t.references.items()},
                }
                for t in report.tasks
            ],
            "protocol_diff": [asdict(row) for row in report.diff],
        }
    )
