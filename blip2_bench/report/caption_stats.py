"""Corpus BLEU-1..4 and METEOR 1.5 from summed per-image sufficient statistics, as pycocoevalcap does.

BLEU (pycocoevalcap BleuScorer, option "closest"): per image [testlen, closest reflen, guess 1-4,
correct 1-4]; corpus BLEU-k = (prod_{j<=k} (correct_j + 1e-15) / (guess_j + 1e-9))^(1/k), times
exp(1 - reflen/testlen) when testlen < reflen. METEOR 1.5 (-l en -norm, the "rank" parameters
alpha 0.85, beta 0.20, gamma 0.60, delta 0.75, module weights exact 1.0, stem 0.6, synonym 0.8,
paraphrase 0.6): its EVAL line adds the 23 segment statistics (MeteorStats.addStats: the chunks
of a segment identical to its reference are not added) and scores the sum
(MeteorScorer.computeMetrics). Both are exact for the whole set (tests compare with the scorers).
"""

from __future__ import annotations

import numpy as np

BLEU_WIDTH = 10
METEOR_WIDTH = 23
_ALPHA, _BETA, _GAMMA, _DELTA = 0.85, 0.20, 0.60, 0.75
_WEIGHTS = (1.0, 0.6, 0.8, 0.6)


def corpus_bleu(totals: np.ndarray) -> np.ndarray:
    """(B, 10) summed BLEU statistics -> (B, 4) corpus BLEU-1..4."""
    totals = np.atleast_2d(totals)
    testlen, reflen = totals[:, 0], totals[:, 1]
    guess, correct = totals[:, 2:6], totals[:, 6:10]
    out = np.empty((len(totals), 4))
    bleu = np.ones(len(totals))
    for k in range(4):
        bleu = bleu * ((correct[:, k] + 1e-15) / (guess[:, k] + 1e-9))
        out[:, k] = bleu ** (1.0 / (k + 1))
    ratio = (testlen + 1e-15) / (reflen + 1e-9)
    short = ratio < 1
    with np.errstate(divide="ignore", over="ignore"):
        penalty = np.where(short, np.exp(1 - 1 / np.where(short, ratio, 1.0)), 1.0)
    return out * penalty[:, None]


def meteor_rows(stats: np.ndarray) -> np.ndarray:
    """Per-segment statistics as addStats adds them: a perfect segment's chunk count is not added."""
    stats = np.array(stats, dtype=np.float64, copy=True).reshape(-1, METEOR_WIDTH)
    stages = stats[:, 4:20].reshape(-1, 4, 4)
    test_total = stages[:, :, 0].sum(1) + stages[:, :, 2].sum(1)
    ref_total = stages[:, :, 1].sum(1) + stages[:, :, 3].sum(1)
    perfect = (test_total == stats[:, 0]) & (ref_total == stats[:, 1]) & (stats[:, 20] == 1)
    stats[perfect, 20] = 0.0
    return stats


def corpus_meteor(totals: np.ndarray) -> np.ndarray:
    """(B, 23) summed METEOR statistics -> (B,) scores, as MeteorScorer.computeMetrics."""
    t = np.atleast_2d(totals)
    stages = t[:, 4:20].reshape(-1, 4, 4)  # per stage: test content, ref content, test function, ref function
    test_w = np.zeros(len(t))
    ref_w = np.zeros(len(t))
    for i, w in enumerate(_WEIGHTS):  # Java's order of additions
        test_w = test_w + stages[:, i, 0] * w * _DELTA
    for i, w in enumerate(_WEIGHTS):
        ref_w = ref_w + stages[:, i, 1] * w * _DELTA
    for i, w in enumerate(_WEIGHTS):
        test_w = test_w + stages[:, i, 2] * w * (1.0 - _DELTA)
    for i, w in enumerate(_WEIGHTS):
        ref_w = ref_w + stages[:, i, 3] * w * (1.0 - _DELTA)
    test_len = _DELTA * (t[:, 0] - t[:, 2]) + (1.0 - _DELTA) * t[:, 2]
    ref_len = _DELTA * (t[:, 1] - t[:, 3]) + (1.0 - _DELTA) * t[:, 3]
    test_total = np.zeros(len(t))
    ref_total = np.zeros(len(t))
    for i in range(4):
        test_total = test_total + stages[:, i, 0] + stages[:, i, 2]
        ref_total = ref_total + stages[:, i, 1] + stages[:, i, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = test_w / test_len
        recall = ref_w / ref_len
        f_mean = 1.0 / ((1.0 - _ALPHA) / precision + _ALPHA / recall)
        perfect = (test_total == t[:, 0]) & (ref_total == t[:, 1]) & (t[:, 20] == 1)
        frag = np.where(perfect, 0.0, t[:, 20] / ((t[:, 21] + t[:, 22]) / 2))
        score = f_mean * (1.0 - _GAMMA * np.power(frag, _BETA))
    return np.where(np.isnan(score), 0.0, np.maximum(score, 0.0))
