"""Bootstrap resampling with count weights: percentile CIs, paired differences, p-values, Holm.

A resample is a row of counts over the n units (questions, images, retrieval images): how many
times each unit was drawn. Every statistic is a function of such a (B, n) weight block, so
means are one matrix product and corpus metrics (BLEU, METEOR) sum sufficient statistics.
Draws are made per stratum (e.g. NoCaps domains keep their sizes) with NumPy's PCG64 from a
fixed seed; all runs of one task share the draws, which makes the comparison paired.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

Statistic = Callable[[np.ndarray], np.ndarray]
"""(B, n) count weights -> (B,) values; weights of all ones give the point estimate."""

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 20230130  # fixed: the same runs give the same intervals on every machine
BLOCK_ELEMENTS = 1 << 22  # ~32 MiB of float64 weights at a time


def task_seed(seed: int, name: str) -> np.random.SeedSequence:
    """One stream per task, so adding a task to a report leaves the others' intervals alone."""
    return np.random.SeedSequence([seed, zlib.crc32(name.encode())])


def weight_blocks(
    n: int, resamples: int, seed: np.random.SeedSequence, strata: Sequence[int] | np.ndarray | None = None
) -> Iterator[np.ndarray]:
    """(b, n) float64 count blocks, `resamples` rows in all; each stratum keeps its size."""
    rng = np.random.Generator(np.random.PCG64(seed))
    groups = [np.arange(n)] if strata is None else [np.flatnonzero(np.asarray(strata) == s) for s in np.unique(strata)]
    block = max(1, min(resamples, BLOCK_ELEMENTS // max(n, 1)))
    done = 0
    while done < resamples:
        b = min(block, resamples - done)
        counts = np.zeros(b * n, dtype=np.int64)
        offsets = (np.arange(b) * n)[:, None]
        for members in groups:
            if len(members):
                drawn = members[rng.integers(0, len(members), size=(b, len(members)))]
                counts += np.bincount((drawn + offsets).ravel(), minlength=b * n)
        yield counts.reshape(b, n).astype(np.float64)
        done += b


def replicate(
    statistics: Sequence[Statistic], n: int, resamples: int, seed: np.random.SeedSequence, strata=None
) -> list[np.ndarray]:
    """Each statistic over the same resamples: a list of (resamples,) arrays."""
    parts: list[list[np.ndarray]] = [[] for _ in statistics]
    for w in weight_blocks(n, resamples, seed, strata):
        for out, stat in zip(parts, statistics, strict=True):
            out.append(np.asarray(stat(w), dtype=np.float64))
    return [np.concatenate(p) if p else np.empty(0) for p in parts]


def point(stat: Statistic, n: int) -> float:
    return float(stat(np.ones((1, n)))[0])


def percentile_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return (float("nan"), float("nan"))
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(finite, [tail, 100 - tail])
    return float(lo), float(hi)


@dataclass(frozen=True)
class Interval:
    value: float
    lo: float
    hi: float
    resamples: int


@dataclass(frozen=True)
class PairedDifference:
    """B - A on the same units: point difference, percentile CI and a two-sided p-value."""

    delta: float
    lo: float
    hi: float
    p: float
    resamples: int
    p_adjusted: float | None = None


def two_sided_p(deltas: np.ndarray) -> float:
    """Bootstrap p of "no difference": twice the smaller tail mass at 0, with the +1 correction.

    Identical runs give all-zero deltas and p = 1; the smallest reachable value is 2/(B+1).
    """
    finite = deltas[np.isfinite(deltas)]
    b = len(finite)
    if b == 0:
        return float("nan")
    below = (np.count_nonzero(finite <= 0) + 1) / (b + 1)
    above = (np.count_nonzero(finite >= 0) + 1) / (b + 1)
    return float(min(1.0, 2 * min(below, above)))


def paired(
    stat_a: Statistic, stat_b: Statistic, n: int, resamples: int, seed: np.random.SeedSequence, strata=None
) -> PairedDifference:
    """Paired bootstrap of stat_b - stat_a: both evaluated on the same resampled units."""
    a, b = replicate([stat_a, stat_b], n, resamples, seed, strata)
    deltas = b - a
    lo, hi = percentile_ci(deltas)
    return PairedDifference(point(stat_b, n) - point(stat_a, n), lo, hi, two_sided_p(deltas), resamples)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1), in input order."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
