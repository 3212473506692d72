"""ROUGE-L exactly as pycocoevalcap 1.2's Rouge computes it, with a bit-parallel LCS in numpy.

pycocoevalcap fills a Python dynamic-programming table per (candidate, reference) pair (5,000
images x 5 references: about 1 s). The LCS length is the same integer when computed with the
bit-vector recurrence of Hyyrö (2004): one word of bits per pair (bit q: candidate word q),
updated once per reference word, for all pairs at once. Candidates over 63 words (the bits of
one uint64, with room for the carry) take the plain recurrence in Python. The float steps
(precision, recall, their maxima, the F-measure with beta 1.2, the mean) are pycocoevalcap's
operations in its order, so the scores are the same bits (tested against Rouge).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np

from .word_ids import word_ids

BETA = 1.2
_MAX_BITS = 63


def _lcs_python(a: Sequence[int], b: Sequence[int]) -> int:
    """LCS length by the bit-vector recurrence on Python integers (any length)."""
    masks: dict[int, int] = {}
    for q, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << q)
    full = (1 << len(a)) - 1
    v = full
    for token in b:
        u = v & masks.get(token, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def lcs_lengths(
    cand_tokens: np.ndarray, cand_len: np.ndarray, ref_tokens: np.ndarray, ref_len: np.ndarray, image: np.ndarray
) -> np.ndarray:
    """LCS length of each reference r with the candidate of image[r] (token ids, flat, with lengths)."""
    n_pairs = ref_len.size
    fits = cand_len[image] <= _MAX_BITS
    # Match masks: bit q of (image, token) set where the image's candidate has the token at q.
    cand_start = np.cumsum(cand_len) - cand_len
    cand_image = np.repeat(np.arange(cand_len.size, dtype=np.int64), cand_len)
    position = np.arange(cand_tokens.size, dtype=np.int64) - np.repeat(cand_start, cand_len)
    keep = position < _MAX_BITS
    vocab = int(max(cand_tokens.max(initial=-1), ref_tokens.max(initial=-1))) + 1
    keys = cand_image[keep] * vocab + cand_tokens[keep]
    sort = np.argsort(keys, kind="stable")
    keys, bits = keys[sort], np.left_shift(np.uint64(1), position[keep][sort].astype(np.uint64))
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1]))) if keys.size else keys
    mask_keys = keys[starts]
    masks = np.bitwise_or.reduceat(bits, starts) if keys.size else bits

    ref_start = np.cumsum(ref_len) - ref_len
    ref_pair = np.repeat(np.arange(n_pairs, dtype=np.int64), ref_len)
    ref_position = np.arange(ref_tokens.size, dtype=np.int64) - np.repeat(ref_start, ref_len)
    wanted = image[ref_pair] * vocab + ref_tokens
    if mask_keys.size:
        where = np.minimum(np.searchsorted(mask_keys, wanted), mask_keys.size - 1)
        match = np.where(mask_keys[where] == wanted, masks[where], np.uint64(0))
    else:
        match = np.zeros(wanted.size, dtype=np.uint64)

    full = (np.left_shift(np.uint64(1), np.minimum(cand_len[image], _MAX_BITS).astype(np.uint64))) - np.uint64(1)
    v = full.copy()
    by_position = np.argsort(ref_position, kind="stable")
    bounds = np.searchsorted(ref_position[by_position], np.arange(int(ref_len.max(initial=0)) + 1))
    for j in range(len(bounds) - 1):  # one step per reference word, all pairs at once
        step = by_position[bounds[j] : bounds[j + 1]]
        pairs = ref_pair[step]
        state = v[pairs]
        u = state & match[step]
        v[pairs] = ((state + u) | (state - u)) & full[pairs]
    lcs = cand_len[image] - np.bitwise_count(v).astype(np.int64)
    for r in np.flatnonzero(~fits).tolist():
        c = int(image[r])
        candidate = cand_tokens[cand_start[c] : cand_start[c] + cand_len[c]].tolist()
        lcs[r] = _lcs_python(candidate, ref_tokens[ref_start[r] : ref_start[r] + ref_len[r]].tolist())
    return lcs


def rouge_l(refs: Sequence[Sequence[str]], candidates: Sequence[str]) -> tuple[float, np.ndarray]:
    """Rouge().compute_score for images in order: the mean ROUGE-L and each image's."""
    n_refs = np.fromiter(map(len, refs), dtype=np.int64, count=len(refs))
    if n_refs.size and n_refs.min() < 1:
        raise ValueError(f"image #{int(np.argmin(n_refs))} has no reference caption")
    # split(" "), as Rouge: "" is one empty word
    tokens, lengths, _ = word_ids([*candidates, *chain.from_iterable(refs)], sep=" ")
    cand_len, ref_len = lengths[: len(candidates)], lengths[len(candidates) :]
    split = int(cand_len.sum())
    image = np.repeat(np.arange(len(refs), dtype=np.int64), n_refs)
    lcs = lcs_lengths(tokens[:split], cand_len, tokens[split:], ref_len, image)
    cand_len, ref_len = cand_len.astype(np.float64), ref_len.astype(np.float64)
    starts = np.cumsum(n_refs) - n_refs
    prec = np.maximum.reduceat(lcs / cand_len[image], starts) if len(refs) else np.zeros(0)
    rec = np.maximum.reduceat(lcs / ref_len, starts) if len(refs) else np.zeros(0)
    beta2 = BETA**2
    both = (prec != 0) & (rec != 0)
    numerator = (1 + beta2) * prec * rec
    denominator = rec + beta2 * prec
    score = np.divide(numerator, denominator, out=np.zeros_like(prec), where=both)
    return float(np.mean(score)), score
