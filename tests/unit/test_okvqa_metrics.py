"""OK-VQA scoring: LAVIS's lemmatizer rule, and hand-checked accuracies with and without it.

The hand-checked values follow LAVIS's code path: ``_lemmatize`` on the prediction, then its
(pre-2021) ``VQAEval`` (the prediction fully normalized; human answers punctuation-processed only
when they differ), leave-one-out over OK-VQA's ten (five doubled) answers.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import pytest

from blip2_bench.demo.okvqa_gqa_fixtures import TinyLemmaPipeline
from blip2_bench.errors import BadInputError
from blip2_bench.metrics import lemmatize
from blip2_bench.metrics.lemmatize import (
    APPLIED,
    Lemmatizer,
    choose_lemmatizer,
    lemmatize_answer,
    lemmatize_answers,
    lemmatizer_status,
)
from blip2_bench.metrics.okvqa_accuracy import okvqa_scores
from blip2_bench.metrics.vqa_accuracy import VqaRecord


@dataclass(frozen=True)
class Tok:
    text: str
    lemma_: str
    pos_: str


def _doc(*tokens: tuple[str, str, str]):
    return lambda text: [Tok(*t) for t in tokens]


def test_lavis_rule_lemmatizes_nouns_and_verbs_only_and_joins_tokens_with_spaces():
    nlp = _doc(("The", "the", "DET"), ("dogs", "dog", "NOUN"), ("are", "be", "AUX"), ("running", "run", "VERB"))
    assert lemmatize_answer("The dogs are running", nlp) == "The dog are run"  # AUX keeps its text
    nlp = _doc(("Yankees", "Yankee", "PROPN"), ("hats", "hat", "NOUN"), ("!", "!", "PUNCT"))
    assert lemmatize_answer("Yankees hats!", nlp) == "Yankees hat !"  # PROPN kept; "!" now its own word
    assert lemmatize_answer("", lambda text: []) == ""


def test_each_distinct_answer_goes_through_the_pipeline_once():
    calls: list[str] = []

    def nlp(text):
        calls.append(text)
        return TinyLemmaPipeline()(text)

    assert lemmatize_answers(["racing", "zebras", "racing"], nlp) == ["race", "zebra", "race"]
    assert calls == ["racing", "zebras"]


def _score(prediction: str, humans: tuple[str, ...], lemmatizer: Lemmatizer) -> float:
    record = VqaRecord(1, prediction, humans, "other", "four")
    return okvqa_scores([record], lemmatizer)[0]["accuracy"]


TINY = Lemmatizer(APPLIED, "test pipeline", TinyLemmaPipeline())
NONE = Lemmatizer("none", "not applied")


def _doubled(*five: str) -> tuple[str, ...]:
    return tuple(a for a in five for _ in range(2))  # OK-VQA lists each annotator's answer twice


@pytest.mark.parametrize(
    "prediction, humans, with_lemmas, without",
    [
        # One annotator of five agrees: 2 of 10 answers match -> (2 x 1/3 + 8 x 2/3) / 10 = 60.
        ("ride", _doubled("ride", "race", "motocross", "dirt bike", "bmx"), 60.0, 60.0),
        # Two annotators: 4 of 10 -> every leave-one-out subset keeps >= 3 matches -> 100.
        ("ride", _doubled("ride", "ride", "motocross", "dirt bike", "bmx"), 100.0, 100.0),
        # v1.1 answers are stemmed ("riding" -> "ride"): only the lemmatized prediction matches.
        ("riding", _doubled("ride", "ride", "motocross", "dirt bike", "bmx"), 100.0, 0.0),
        ("Racing", _doubled("race", "race", "race", "motocross", "ride"), 100.0, 0.0),
        # "t-shirts" -> "t - shirt" (spaCy splits at "-") -> the VQA normalization drops the lone "-"
        # -> "t shirt"; unlemmatized, "t-shirts" -> "t shirts".
        ("t-shirts", ("t shirt",) * 10, 100.0, 0.0),
        # The rule can also cost: "don't" becomes "do n't", which no human answer matches.
        ("don't know", ("don't know",) * 10, 0.0, 100.0),
        # Not NOUN/VERB: untouched either way ("two" -> "2" by the VQA normalization).
        ("two", _doubled("2", "2", "3", "2", "4"), 100.0, 100.0),
    ],
)
def test_hand_checked_accuracy_with_and_without_the_lemmatizer(prediction, humans, with_lemmas, without):
    assert _score(prediction, humans, TINY) == with_lemmas
    assert _score(prediction, humans, NONE) == without


def test_scores_carry_categories_and_the_lemmatizer():
    records = [
        VqaRecord(1, "racing", _doubled("race", "race", "race", "ride", "ride"), "other", "four"),
        VqaRecord(2, "horse", _doubled("zebra", "zebra", "zebra", "horse", "zebra"), "other", "eight"),
    ]
    scores, scored = okvqa_scores(records, TINY)
    assert scored == ["race", "horse"]
    assert scores["per_question"] == {"1": 100.0, "2": 60.0} and scores["accuracy"] == 80.0
    assert scores["per_category"] == {"SR": 100.0, "PA": 60.0}  # OK-VQA paper's abbreviations
    assert scores["lemmatizer"] == "spacy:en_core_web_sm" and scores["per_answer_type"] == {"other": 80.0}
    assert okvqa_scores(records, NONE)[0]["lemmatizer"] == "none"


def test_choosing_the_lemmatizer(monkeypatch):
    monkeypatch.setattr(lemmatize, "load_spacy", TinyLemmaPipeline)
    assert choose_lemmatizer("auto", "x").name == "spacy:en_core_web_sm"
    assert choose_lemmatizer("spacy", "x").applied
    assert not choose_lemmatizer("off", "opt").applied and choose_lemmatizer("off", "opt").detail == "off (opt=off)"

    def missing():
        raise lemmatize.LemmatizerUnavailable("spaCy is not installed")

    monkeypatch.setattr(lemmatize, "load_spacy", missing)
    auto = choose_lemmatizer("auto", "x")
    assert auto.name == "none" and auto.detail == "not applied: spaCy is not installed"
    assert auto.apply(["racing"]) == ["racing"]
    with pytest.raises(BadInputError, match=r"^--lemmatizer=spacy, but spaCy is not installed$"):
        choose_lemmatizer("spacy", "--lemmatizer")
    with pytest.raises(BadInputError, match=r"x must be one of"):
        choose_lemmatizer("nltk", "x")


HAS_SPACY_MODEL = lemmatizer_status().installed


@pytest.mark.skipif(HAS_SPACY_MODEL, reason="spaCy and en_core_web_sm are installed here")
def test_status_says_what_is_missing_without_importing_spacy():
    status = lemmatizer_status()
    assert not status.installed
    assert "python -m spacy download en_core_web_sm" in status.detail
    if importlib.util.find_spec("spacy") is None:
        assert status.detail.startswith("spaCy is not installed")
    with pytest.raises(lemmatize.LemmatizerUnavailable):
        lemmatize.load_spacy()


@pytest.mark.skipif(not HAS_SPACY_MODEL, reason="needs spaCy and en_core_web_sm (not installable offline)")
def test_the_real_pipeline_as_lavis_runs_it():
    nlp = lemmatize.load_spacy()
    assert lemmatize_answer("The dogs are running", nlp) == "The dog are run"
    assert choose_lemmatizer("spacy", "x").detail.startswith("spacy ")
