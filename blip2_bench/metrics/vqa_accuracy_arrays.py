"""VQA accuracy of many questions at once, with numpy, bit-identical to the per-question loop.

Each scorer's string processing is a pure function of the string, so every string compared is
processed once and interned to an integer id; a question's matches are then an equality test on
an id array. Every float is the loop's: a question's accuracy comes from vqa_accuracy's own
accuracy_of_hits (once per distinct pattern of matching answers), and the means are summed in
Python in file order, so the numbers agree bit for bit. It takes only questions with the same number
of human answers (VQAv2, OK-VQA: ten); anything else returns None and the loop scores it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from itertools import chain
from typing import Any

import numpy as np

from .vqa_accuracy import Columns, Row, _clean_whitespace, _full, _mean_pct, _process_punctuation, accuracy_of_hits


class _Ids(dict):
    """value -> a small integer, given in order of first appearance."""

    def __missing__(self, value: Hashable) -> int:
        number = self[value] = len(self)
        return number


def _array(values: Iterable[int], count: int) -> np.ndarray:
    return np.fromiter(values, dtype=np.int64, count=count)


def _compared(scorer: str, predictions: Sequence[str], humans: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(prediction ids, human answer ids as questions x n): the strings each version compares.

    Each answer string is looked up once (hashing millions of fresh strings is the cost here);
    the processing runs on the distinct strings and reaches the answers by array indexing.
    """
    ids = _Ids()
    raw_humans = _array(map(ids.__getitem__, humans), len(humans)).reshape(len(predictions), n)
    raw_predictions = _array(map(ids.__getitem__, predictions), len(predictions))
    distinct = list(ids)  # the raw strings, in id order (processed strings get ids after them)

    def processed(process: Callable[[str], str]) -> np.ndarray:
        return _array((ids[process(text)] for text in distinct), len(distinct))

    normalized = processed(lambda text: _full(_clean_whitespace(text)))
    if scorer == "lavis":  # raw humans when all identical, else punctuation only; prediction normalized
        identical = (raw_humans == raw_humans[:, :1]).all(axis=1)
        punctuated = processed(_process_punctuation)[raw_humans]
        return normalized[raw_predictions], np.where(identical[:, None], raw_humans, punctuated)
    # official (HEAD): whitespace-cleaned everywhere; normalized on both sides unless the
    # cleaned humans are all identical
    clean = processed(_clean_whitespace)
    cleaned = clean[raw_humans]
    identical = (cleaned == cleaned[:, :1]).all(axis=1)
    prediction = np.where(identical, clean[raw_predictions], normalized[raw_predictions])
    return prediction, np.where(identical[:, None], cleaned, normalized[raw_humans])


def _accuracies(prediction: np.ndarray, humans: np.ndarray) -> np.ndarray:
    """Each question's accuracy, computed once per distinct pattern of matching answers by the
    loop's own accuracy_of_hits (so the floats are its floats on any Python version)."""
    hits = humans == prediction[:, None]
    n = hits.shape[1]
    patterns, where = np.unique(hits @ (1 << np.arange(n, dtype=np.int64)), return_inverse=True)
    table = [accuracy_of_hits([bool(code >> j & 1) for j in range(n)]) for code in patterns.tolist()]
    return np.array(table, dtype=np.float64)[where.reshape(-1)]


def _group_means(groups: Sequence[Any], accuracies: np.ndarray) -> dict[Any, float]:
    """group -> rounded mean percentage, groups in order of first appearance, each group's
    accuracies summed in file order (a stable sort keeps it)."""
    ids = _Ids()
    codes = _array(map(ids.__getitem__, groups), len(groups))
    order = np.argsort(codes, kind="stable")
    starts = [0, *(np.flatnonzero(np.diff(codes[order])) + 1).tolist(), len(groups)]
    ordered = accuracies[order].tolist()
    return {group: _mean_pct(ordered[a:b]) for group, a, b in zip(ids, starts[:-1], starts[1:], strict=True)}


MAX_ANSWERS = 62
"""More human answers per question than bits in an int64 pattern go to the loop."""


def scores_of_rows(rows: Sequence[Row], scorer: str) -> dict[str, Any] | None:
    """vqa_scores_rows's result, or None when the loop must score these rows: anything but
    rows of five with str predictions and equally long list/tuple of str human answers and
    unique ids (the loop raises on what is wrong, with its own message)."""
    if not all(isinstance(row, (tuple, list)) for row in rows) or set(map(len, rows)) != {5}:
        return None
    return scores_of_columns(tuple(zip(*rows, strict=True)), scorer)  # type: ignore[arg-type]


def scores_of_columns(columns: Columns, scorer: str) -> dict[str, Any] | None:
    """scores_of_rows on the rows' fields as five columns of equal length."""
    if len(set(map(len, columns))) != 1:
        return None
    question_ids, predictions, humans, answer_types, question_types = columns
    if not set(map(type, humans)) <= {tuple, list} or set(map(type, predictions)) != {str}:
        return None
    lengths = set(map(len, humans))
    if len(lengths) != 1:
        return None
    (n,) = lengths
    keys = list(map(str, question_ids))
    if not 0 < n <= MAX_ANSWERS or len(set(keys)) != len(keys):
        return None
    flat = list(chain.from_iterable(humans))
    if set(map(type, flat)) != {str}:
        return None
    accuracies = _accuracies(*_compared(scorer, predictions, flat, n))
    unique, where = np.unique(accuracies, return_inverse=True)
    percentages = [round(100 * acc, 2) for acc in unique.tolist()]  # Python's round, as upstream
    return {
        "accuracy": _mean_pct(accuracies.tolist()),
        "per_answer_type": _group_means(answer_types, accuracies),
        "per_question_type": _group_means(question_types, accuracies),
        "per_question": dict(zip(keys, map(percentages.__getitem__, where.reshape(-1).tolist()), strict=True)),
    }
