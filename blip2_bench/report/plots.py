"""PNG plots: a grouped bar chart per task (CI error bars) and a published-vs-measured chart.

Each plot's bar heights and error bars are read back from the drawn figure (its Rectangle
patches and error-bar line data) and returned, so tests and plots.json check what was drawn.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from .compare import Report, TaskReport


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _read_back(ax: Any) -> list[dict[str, Any]]:
    """Per bar container (one per series): label and bar heights as drawn."""
    from matplotlib.container import BarContainer

    out = []
    for container in ax.containers:
        if not isinstance(container, BarContainer):
            continue
        label = container.get_label()
        heights = [float(p.get_height()) for p in container.patches]
        out.append({"series": label, "heights": heights})
    return out


def _errorbars(ax: Any) -> list[list[float]]:
    """The (lo, hi) of every drawn error bar, in drawing order."""
    spans = []
    for collection in ax.collections:
        for segment in collection.get_segments():
            ys = [float(y) for _, y in segment]
            spans.append([min(ys), max(ys)])
    return spans


def _save(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return buf.getvalue()


def task_bars(task: TaskReport) -> tuple[bytes, dict[str, Any]]:
    """Grouped bars: one group per metric, one bar per pairing, 95% CI as error bars."""
    plt = _pyplot()
    labels = list(task.cells)
    metrics = task.metrics
    x = np.arange(len(metrics))
    width = 0.8 / max(len(labels), 1)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(metrics) * max(1, len(labels)) ** 0.5 + 2), 3.6))
    for k, label in enumerate(labels):
        cells = [task.cells[label][m.key] for m in metrics]
        heights = [c.value if c.value is not None else math.nan for c in cells]
        lower = [c.value - c.ci.lo if c.ci and c.value is not None else 0.0 for c in cells]
        upper = [c.ci.hi - c.value if c.ci and c.value is not None else 0.0 for c in cells]
        ax.bar(
            x + (k - (len(labels) - 1) / 2) * width,
            heights,
            width,
            label=label,
            yerr=np.array([lower, upper]),
            capsize=3,
        )
    ax.set_xticks(x, [m.label + (" ★" if m.primary else "") for m in metrics])
    ax.set_title(f"{task.task} (95% bootstrap CI)")
    ax.legend(fontsize="small")
    ax.set_ylim(bottom=0)
    data = {"task": task.task, "metrics": [m.key for m in metrics], "bars": _read_back(ax), "errorbars": _errorbars(ax)}
    return _save(fig), data


def published_chart(report: Report) -> tuple[bytes, dict[str, Any]] | None:
    """Measured vs published for every matched (pairing, task, metric); None when nothing matched."""
    pairs = []
    for task in report.tasks:
        for label, refs in task.references.items():
            for ref in refs:
                for m in task.metrics:
                    if ref.matched and m.key in ref.values and task.cells[label][m.key].value is not None:
                        pairs.append(
                            (
                                f"{label}\n{task.task} {m.label} ({ref.source})",
                                task.cells[label][m.key].value,
                                ref.values[m.key],
                            )
                        )
    if not pairs:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 1.4 * len(pairs) + 1), 3.8))
    x = np.arange(len(pairs))
    ax.bar(x - 0.2, [p[1] for p in pairs], 0.4, label="measured")
    ax.bar(x + 0.2, [p[2] for p in pairs], 0.4, label="published")
    ax.set_xticks(x, [p[0] for p in pairs], fontsize="small")
    ax.set_title("Measured vs published")
    ax.legend(fontsize="small")
    data = {"labels": [p[0] for p in pairs], "bars": _read_back(ax)}
    return _save(fig), data


def all_plots(report: Report) -> dict[str, tuple[bytes, dict[str, Any]]]:
    """File name -> (PNG bytes, read-back data)."""
    plots = {f"{task.task}.png": task_bars(task) for task in report.tasks}
    published = published_chart(report)
    if published is not None:
        plots["published_vs_measured.png"] = published
    return plots
