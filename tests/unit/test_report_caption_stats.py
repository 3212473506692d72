"""Corpus-metric bootstrap from sufficient statistics equals brute-force pycocoevalcap on each resample."""

from __future__ import annotations

import numpy as np
import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider_scorer import CiderScorer

from blip2_bench.metrics.captions import _meteor_score, bleu_stats
from blip2_bench.report.bootstrap import task_seed, weight_blocks
from blip2_bench.report.caption_stats import corpus_bleu, corpus_meteor, meteor_rows

WORDS = "a man dog two people riding on the of with red blue bike street sitting table food plate".split()


def _captions(seed: int, n: int = 14) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    rng = np.random.default_rng(seed)

    def sentence(lo: int, hi: int) -> str:
        return " ".join(rng.choice(WORDS, size=int(rng.integers(lo, hi))))

    gts = {i: [sentence(5, 11) for _ in range(int(rng.integers(3, 6)))] for i in range(n)}
    res = {i: [sentence(2, 12)] for i in range(n)}
    res[0] = [gts[0][1]]  # one perfect caption (METEOR's addStats treats it specially)
    res[1] = [""]  # and an empty one
    return gts, res


def _resamples(n: int, count: int = 5) -> list[np.ndarray]:
    return list(next(weight_blocks(n, count, task_seed(3, "brute"))))


def _expand(w: np.ndarray, gts: dict, res: dict) -> tuple[dict, dict]:
    """The resample as its own evaluation set: image k drawn c times becomes c distinct images."""
    ids = list(gts)
    drawn = [ids[k] for k, c in enumerate(w) for _ in range(int(c))]
    return {j: gts[i] for j, i in enumerate(drawn)}, {j: res[i] for j, i in enumerate(drawn)}


def test_bleu_from_summed_statistics_equals_pycocoevalcap_on_each_resample():
    gts, res = _captions(1)
    stats = np.array(bleu_stats(gts, res, list(gts)))
    full, _ = Bleu(4).compute_score(gts, res, verbose=0)
    assert corpus_bleu(stats.sum(0))[0] == pytest.approx(full, abs=1e-12, rel=0)
    for w in _resamples(len(gts)):
        brute, _ = Bleu(4).compute_score(*_expand(w, gts, res), verbose=0)
        assert corpus_bleu(w @ stats)[0] == pytest.approx(brute, abs=1e-12, rel=0)


def test_cider_with_fixed_document_frequencies_equals_pycocoevalcap_on_each_resample():
    gts, res = _captions(2)
    full = CiderScorer(n=4, sigma=6.0)
    for i in gts:
        full += (res[i][0], gts[i])
    _, per_image = full.compute_score()
    for w in _resamples(len(gts)):
        g, r = _expand(w, gts, res)
        scorer = CiderScorer(n=4, sigma=6.0)
        for j in g:
            scorer += (r[j][0], g[j])
        scorer.document_frequency = full.document_frequency  # the stated convention: the evaluated set's df
        brute = float(np.mean(scorer.compute_cider()))
        assert float(w @ per_image) / len(gts) == pytest.approx(brute, abs=1e-12, rel=0)


@pytest.mark.java
def test_meteor_from_summed_statistics_equals_meteor_on_each_resample():
    gts, res = _captions(3)
    rows: list[list[float]] = []
    full, _ = _meteor_score(gts, res, rows)
    stats = meteor_rows(np.array(rows))
    assert corpus_meteor(stats.sum(0))[0] == pytest.approx(full, abs=1e-12, rel=0)
    for w in _resamples(len(gts), 3):
        brute, _ = _meteor_score(*_expand(w, gts, res))
        assert corpus_meteor(w @ stats)[0] == pytest.approx(brute, abs=1e-12, rel=0)
