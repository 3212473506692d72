"""GQA accuracy: hand-checked cases of LAVIS's normalization and the official eval's breakdowns."""

from __future__ import annotations

import pytest

from blip2_bench.metrics.gqa_accuracy import GqaRecord, compared, gqa_scores, is_correct, lavis_normalize


@pytest.mark.parametrize(
    "text, normalized",
    [
        ("Yes.", "yes"),  # period dropped, lower-cased
        ("the table", "table"),  # articles dropped
        ("two", "2"),  # number words to digits
        ("t-shirt", "t shirt"),  # "-" not next to a space becomes a space
        ("t - shirt", "t shirt"),  # ... next to a space, it vanishes
        ("black and white", "black and white"),
        ("  left ", "left"),  # processDigitArticle splits on whitespace
        ("dont", "don't"),  # contractions
        ("3.5", "3.5"),  # a period before a digit stays
        ("none", "0"),  # VQA's manual map: "none" -> "0" (GQA has no counting answers)
    ],
)
def test_lavis_normalization_is_the_vqa_evaluations(text, normalized):
    assert lavis_normalize(text) == normalized


@pytest.mark.parametrize(
    "prediction, gold, lavis, lavis_2023_12, official",
    [
        ("yes", "yes", True, True, True),
        ("Yes.", "yes", True, True, False),  # the official eval compares raw strings
        ("the kitchen", "kitchen", True, True, False),
        # LAVIS 2023-02 normalizes the prediction only, so a gold answer normalization would change
        # can never be matched; since 71a2da9 (2023-12) the gold is normalized too.
        ("t-shirt", "t-shirt", False, True, True),
        ("t shirt", "t-shirt", False, True, False),
        ("Left", "left", True, True, False),
        ("left side", "left", False, False, False),  # exact match: no partial credit
    ],
)
def test_each_scorer_on_hand_checked_pairs(prediction, gold, lavis, lavis_2023_12, official):
    assert is_correct(prediction, gold, "lavis") is lavis
    assert is_correct(prediction, gold, "lavis-2023-12") is lavis_2023_12
    assert is_correct(prediction, gold, "official") is official


def test_compared_strings_are_what_each_scorer_sees():
    assert compared("T-Shirt", "t-shirt", "lavis") == ("t shirt", "t-shirt")
    assert compared("T-Shirt", "t-shirt", "lavis-2023-12") == ("t shirt", "t shirt")
    assert compared("T-Shirt", "t-shirt", "official") == ("T-Shirt", "t-shirt")
    with pytest.raises(ValueError, match="unknown GQA scorer"):
        compared("a", "b", "vqa")


def _r(qid, pred, gold, structural, semantic, words=4, steps=2, detailed="d"):
    return GqaRecord(qid, pred, gold, structural, semantic, detailed, words, steps)


def test_breakdowns_follow_the_official_eval():
    records = [
        _r("01", "yes", "yes", "verify", "attr", words=4, steps=2),
        _r("02", "no", "yes", "verify", "rel", words=5, steps=2),
        _r("03", "red", "red", "query", "attr", words=10, steps=3),
        _r("04", "cup", "table", "query", "obj", words=5, steps=1),
        _r("05", "left", "left", "choose", "rel", words=9, steps=1),
    ]
    scores = gqa_scores(records, "official")
    assert scores["accuracy"] == pytest.approx(60.0)
    # "open" = structural type query; "binary" = every other structural type.
    assert scores["binary"] == pytest.approx(200 / 3) and scores["open"] == pytest.approx(50.0)
    assert scores["per_structural_type"] == pytest.approx({"choose": 100.0, "query": 50.0, "verify": 50.0})
    assert scores["per_semantic_type"] == pytest.approx({"attr": 100.0, "obj": 0.0, "rel": 50.0})
    assert list(scores["per_length"]) == ["4", "5", "9", "10"]  # numeric order
    assert scores["per_length"]["5"] == 0.0 and scores["per_steps"] == pytest.approx({"1": 50.0, "2": 50.0, "3": 100.0})
    assert scores["per_question"] == {"01": 100.0, "02": 0.0, "03": 100.0, "04": 0.0, "05": 100.0}
    assert scores["counts"]["binary"] == 3 and scores["counts"]["per_semantic_type"] == {"attr": 2, "obj": 1, "rel": 2}


def test_no_open_question_scores_zero_as_the_official_avg_does():
    scores = gqa_scores([_r("1", "yes", "yes", "verify", "attr")], "lavis")
    assert scores["open"] == 0.0 and scores["counts"]["open"] == 0 and scores["binary"] == 100.0


def test_bad_records_fail():
    with pytest.raises(ValueError, match="records is empty"):
        gqa_scores([], "lavis")
    with pytest.raises(ValueError, match="duplicate questionId '1'"):
        gqa_scores([_r("1", "a", "a", "query", "obj"), _r("1", "a", "a", "query", "obj")], "lavis")
