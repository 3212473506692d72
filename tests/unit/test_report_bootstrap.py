"""Bootstrap machinery on synthetic data with known answers: coverage, paired tests, Holm."""

from __future__ import annotations

import numpy as np
import pytest

from blip2_bench.report.bootstrap import holm, paired, percentile_ci, point, replicate, task_seed, weight_blocks
from blip2_bench.report.tasks import _mean_of


def test_weights_are_resample_counts_and_keep_strata_sizes():
    strata = np.array([0] * 7 + [1] * 3)
    blocks = list(weight_blocks(10, 1000, task_seed(1, "t"), strata))
    w = np.concatenate(blocks)
    assert w.shape == (1000, 10) and np.all(w == np.round(w)) and np.all(w >= 0)
    assert np.all(w[:, :7].sum(1) == 7) and np.all(w[:, 7:].sum(1) == 3)
    again = np.concatenate(list(weight_blocks(10, 1000, task_seed(1, "t"), strata)))
    assert np.array_equal(w, again)  # fixed seed: the same draws
    assert not np.array_equal(w, np.concatenate(list(weight_blocks(10, 1000, task_seed(2, "t"), strata))))


def test_percentile_ci_covers_a_known_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(123)
    true_mean, hits, repeats = 0.3, 0, 200
    for r in range(repeats):
        x = (rng.random(150) < true_mean).astype(float)
        (draws,) = replicate([_mean_of(x)], len(x), 400, task_seed(r, "coverage"))
        lo, hi = percentile_ci(draws)
        hits += lo <= true_mean <= hi
    assert 0.88 <= hits / repeats <= 0.99, hits / repeats


def test_identical_runs_differ_by_zero_with_p_one():
    x = np.random.default_rng(5).random(300) * 100
    d = paired(_mean_of(x), _mean_of(x.copy()), len(x), 500, task_seed(0, "same"))
    assert (d.delta, d.lo, d.hi, d.p) == (0.0, 0.0, 0.0, 1.0)


def test_a_planted_difference_is_detected_and_a_null_one_is_not():
    rng = np.random.default_rng(7)
    n = 400
    a = (rng.random(n) < 0.5).astype(float) * 100
    better = np.where(rng.random(n) < 0.15, 100.0, a)  # B fixes ~15% of the questions
    planted = paired(_mean_of(a), _mean_of(better), n, 1000, task_seed(0, "planted"))
    assert planted.p < 0.01 and planted.lo > 0 and planted.delta == pytest.approx(np.mean(better) - np.mean(a))
    rejections = 0
    for r in range(40):  # B is A with answers reshuffled at random: no true difference
        noise = rng.random(n) < 0.5
        b = (rng.random(n) < 0.5).astype(float) * 100
        b = np.where(noise, b, a)
        rejections += paired(_mean_of(a), _mean_of(b), n, 400, task_seed(r, "null")).p < 0.05
    assert rejections <= 6, rejections  # ~5% expected


def test_point_is_the_full_sample_statistic():
    x = np.arange(10.0)
    assert point(_mean_of(x), 10) == 4.5


def test_holm_matches_the_step_down_definition():
    p = [0.01, 0.04, 0.03, 0.5]
    # sorted: 0.01*4=0.04, 0.03*3=0.09, 0.04*2=0.08 -> max(0.09, 0.08)=0.09, 0.5*1=0.5
    assert holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.9, 0.8]) == [1.0, 1.0]
