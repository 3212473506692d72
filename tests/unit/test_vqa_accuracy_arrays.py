"""The array scorer (metrics/vqa_accuracy_arrays.py) against the reference and the loop.

The reference is _official_vqa_reference (the upstream control flow kept literal); the loop is
vqa_accuracy.scores_of_rows_one_by_one. Equality is exact: unrounded accuracies bit for bit,
and every rounded table.
"""

from __future__ import annotations

import random

import pytest
from _official_vqa_reference import reference_eval
from test_vqa_accuracy import POOL, VERSION_CASES

from blip2_bench.metrics import vqa_accuracy as va
from blip2_bench.metrics import vqa_accuracy_arrays as arrays
from blip2_bench.metrics.vqa_accuracy import SCORERS, VqaRecord, vqa_scores, vqa_scores_rows

# Strings that are equal only after the whitespace cleanup, or only after normalization.
TRICKY = ["yes\n", "\tyes", " Yes ", "yes\t", "two\n", " 2", "a  dog", "dog\n", "Dog."]


def _random_rows(rng: random.Random, n_humans: int, count: int) -> list[tuple]:
    rows = []
    for q in range(count):
        base = rng.sample(POOL + TRICKY, rng.choice([1, 2, 3, 5]))
        humans = tuple(rng.choice(base) for _ in range(n_humans))
        prediction = rng.choice(POOL + TRICKY + list(humans))
        rows.append((7 * q + 3, prediction, humans, rng.choice(["yes/no", "number", "other"]), rng.choice("xyzw")))
    return rows


@pytest.mark.parametrize("scorer", SCORERS)
@pytest.mark.parametrize("n_humans", [1, 2, 3, 4, 7, 10])
def test_array_scores_equal_the_reference_and_the_loop(scorer: str, n_humans: int) -> None:
    rng = random.Random(n_humans * 31 + len(scorer))
    for _ in range(25):
        rows = _random_rows(rng, n_humans, rng.randint(1, 60))
        ref = reference_eval([(q, p, list(h), a, t) for q, p, h, a, t in rows], scorer)
        got = arrays.scores_of_rows(rows, scorer)
        assert got is not None
        assert got == va.scores_of_rows_one_by_one(rows, scorer)
        assert got["accuracy"] == ref.accuracy["overall"]
        assert got["per_answer_type"] == ref.accuracy["perAnswerType"]
        assert got["per_question_type"] == ref.accuracy["perQuestionType"]
        assert got["per_question"] == {str(k): v for k, v in ref.evalQA.items()}
        # unrounded, bit for bit (1-3 matches add unequal terms in answer order)
        predictions = [r[1] for r in rows]
        flat = [h for r in rows for h in r[2]]
        assert arrays._accuracies(*arrays._compared(scorer, predictions, flat, n_humans)).tolist() == ref.raw


@pytest.mark.parametrize("scorer", SCORERS)
def test_array_scores_on_the_upstream_version_cases(scorer: str) -> None:
    rows = [(i, p, tuple(h), "t", "q") for i, (p, h, *_) in enumerate(VERSION_CASES)]
    expected = {str(i): case[2 if scorer == "official" else 3] for i, case in enumerate(VERSION_CASES)}
    assert arrays.scores_of_rows(rows, scorer)["per_question"] == expected  # type: ignore[index]


def test_groups_keep_first_appearance_order_as_the_loop() -> None:
    rows = [(i, "yes", ("yes",) * 10, kind, f"q{i % 4}") for i, kind in enumerate(["other", "number", "yes/no"] * 3)]
    got = arrays.scores_of_rows(rows, "official")
    assert got is not None
    assert list(got["per_answer_type"]) == ["other", "number", "yes/no"]
    assert list(got["per_question_type"]) == ["q0", "q1", "q2", "q3"]
    assert list(got["per_question"]) == [str(i) for i in range(9)]


@pytest.mark.parametrize(
    "rows",
    [
        [(1, "yes", ("yes",) * 10, "a", "q"), (2, "no", ("no",) * 9, "a", "q")],  # ragged
        [(1, "yes", ("yes",) * 10, "a", "q"), (1, "no", ("no",) * 10, "a", "q")],  # duplicate id
        [(1, "yes", ("yes",) * 10, "a", "q"), ("1", "no", ("no",) * 10, "a", "q")],  # same key "1"
        [(1, "yes", "yes", "a", "q")],  # a string for the answer list
        [(1, "yes", (), "a", "q")],
    ],
)
def test_rows_the_loop_must_score_are_left_to_it(rows: list[tuple]) -> None:
    assert arrays.scores_of_rows(rows, "official") is None


def test_ragged_rows_are_scored_by_the_loop() -> None:
    rows = [(1, "yes", ("yes",) * 10, "a", "q"), (2, "2", ("two", "2", "3"), "b", "q")]
    assert vqa_scores_rows(rows) == va.scores_of_rows_one_by_one(rows, "official")
    ref = reference_eval([(q, p, list(h), a, t) for q, p, h, a, t in rows], "official")
    assert (
        vqa_scores_rows(rows)["per_question"] == {"1": 100.0, "2": 44.44} == {str(k): v for k, v in ref.evalQA.items()}
    )


def test_errors_are_the_loops() -> None:
    dup = VqaRecord(1, "yes", ("yes",) * 10, "a", "q")
    with pytest.raises(ValueError, match="duplicate question_id 1"):
        vqa_scores([dup, dup])
    with pytest.raises(ValueError, match="non-empty sequence"):
        vqa_scores_rows([(1, "yes", "yes", "a", "q")])
    with pytest.raises(ValueError, match="non-empty sequence"):
        vqa_scores_rows([(1, "yes", (), "a", "q")])


def test_every_hit_pattern_gives_the_reference_accuracy() -> None:
    # All 2^n patterns of matching answers for n = 1..10: the table the array path builds per
    # distinct pattern is upstream's float, bit for bit (also where Python 3.12's sum differs).
    for n in range(1, 11):
        for code in range(1 << n):
            hits = [bool(code >> j & 1) for j in range(n)]
            humans = ["m" if h else "x" for h in hits]
            assert va.accuracy_of_hits(hits) == reference_eval([(1, "m", humans, "a", "q")], "official").raw[0]


@pytest.mark.parametrize(
    "columns",
    [
        ([1, 2], ["yes", "no"], [("yes",) * 10] * 2, ["a"], ["q", "q"]),  # columns of unequal length
        ([1, 2], ["yes", None], [("yes",) * 10] * 2, ["a", "a"], ["q", "q"]),  # a prediction not a str
        ([1], ["yes"], [{"yes", "yes "}], ["a"], ["q"]),  # a set for the answer list
        ([1], ["yes"], [("yes",) * 9 + (3,)], ["a"], ["q"]),  # an answer not a str
    ],
)
def test_columns_the_loop_must_score_are_left_to_it(columns: tuple) -> None:
    assert arrays.scores_of_columns(columns, "official") is None


def test_a_duplicate_id_is_the_loops_error_even_beside_a_bad_answer() -> None:
    humans = ("yes",) * 10
    rows = [(1, "yes", humans, "a", "q"), (1, "yes", humans, "a", "q"), (2, "yes", ("yes",) * 9 + (3,), "a", "q")]
    with pytest.raises(ValueError, match="duplicate question_id 1"):
        vqa_scores_rows(rows)
