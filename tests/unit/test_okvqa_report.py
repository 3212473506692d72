"""OK-VQA in the comparison report: published rows matched only with LAVIS's lemmatizer and protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from blip2_bench.report.published import references
from blip2_bench.report.runs import Run
from blip2_bench.report.tasks import headline_metrics, task_units

T5 = "Question: {} Short answer:"


def _run(lemmatizer: str = "spacy:en_core_web_sm", n: int = 5046, **settings) -> Run:
    info = {
        "settings": {
            "prompts": {"opt": "Question: {} Answer:", "t5": T5},
            "generation": {"num_beams": 5, "max_new_tokens": 10, "min_new_tokens": 1, "length_penalty": -1.0},
            "scorer": "lavis",
            "lemmatizer": lemmatizer,
            **settings,
        },
        "n_predicted": n,
        "table": {"accuracy": 40.0, "acc[VT]": 30.0},
    }
    backend = {
        "model": "Salesforce/blip2-flan-t5-xl",
        "family": "t5",
        "image_processing": {"size": {"height": 224, "width": 224}},
    }
    return Run(
        Path("run"), {"backend": backend, "tasks": {"okvqa": info}, "config": {"task": {"okvqa": {"split": "val"}}}}
    )


def test_paper_and_lavis_rows_match_the_full_protocol():
    paper, lavis = references(_run(), "okvqa")
    assert paper.matched and paper.values == {"accuracy": 40.7}
    assert lavis.matched and lavis.values == {"accuracy": 41.22}


def test_a_run_without_the_lemmatizer_is_never_labelled_comparable():
    for ref in references(_run(lemmatizer="none"), "okvqa"):
        assert not ref.matched and not ref.values
        assert 'lemmatizer "none", ' in ref.reason and 'used "spacy:en_core_web_sm"' in ref.reason


def test_other_mismatches_are_named():
    (paper, _) = references(_run(n=100, scorer="official"), "okvqa")
    assert 'scorer "official", paper used "lavis"' in paper.reason and "scored 100 of the 5,046" in paper.reason


def test_headline_is_the_accuracy_and_questions_are_the_bootstrap_units():
    assert [m.key for m in headline_metrics("okvqa", {"accuracy": 1.0, "acc[VT]": 2.0})] == ["accuracy"]
    records = [{"id": str(i), "score": s, "answer_type": "other"} for i, s in enumerate([100.0, 0.0, 60.0])]
    units = task_units("okvqa", {}, records)
    assert units is not None and units.ids == ["0", "1", "2"]
    assert units.stats["accuracy"](np.ones((1, 3)))[0] == 160 / 3
