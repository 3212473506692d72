"""GQA in the comparison report: published rows, headline columns, bootstrap units by structural type."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from blip2_bench.report.published import references
from blip2_bench.report.runs import Run
from blip2_bench.report.tasks import headline_metrics, task_units


def _run(model: str, family: str, prompt: str, scorer: str = "lavis", n: int = 12578, split: str = "test-dev") -> Run:
    info = {
        "settings": {
            "prompts": {"opt": "Question: {} Answer:", "t5": "Question: {} Short answer:"}
            if prompt == "paper"
            else {"all": prompt},
            "generation": {"num_beams": 5, "max_new_tokens": 10, "min_new_tokens": 1, "length_penalty": -1.0},
            "scorer": scorer,
        },
        "n_predicted": n,
        "table": {"accuracy": 40.0},
    }
    backend = {"model": model, "family": family, "image_processing": {"size": {"height": 224, "width": 224}}}
    return Run(Path("run"), {"backend": backend, "tasks": {"gqa": info}, "config": {"task": {"gqa": {"split": split}}}})


def test_paper_rows_match_per_family_prompts():
    (paper,) = references(_run("Salesforce/blip2-opt-2.7b", "opt", "paper"), "gqa")
    assert paper.matched and paper.values == {"accuracy": 34.6}
    paper, lavis = references(_run("Salesforce/blip2-flan-t5-xl", "t5", "paper"), "gqa")
    assert paper.values == {"accuracy": 44.2} and lavis.values == {"accuracy": 43.98}


def test_mismatches_are_named():
    (paper,) = references(
        _run("Salesforce/blip2-opt-2.7b", "opt", "Question: {} Short answer:", scorer="official"), "gqa"
    )
    assert (
        'scorer "official", paper used "lavis"' in paper.reason
        and "prompt 'Question: {} Short answer:'" in paper.reason
    )
    (paper,) = references(_run("Salesforce/blip2-opt-2.7b", "opt", "paper", split="val"), "gqa")
    assert paper.reason == "split val, paper published test-dev"


def test_headline_columns_and_units():
    table = {k: 1.0 for k in ["accuracy", "acc[binary]", "acc[open]", "acc[query]", "acc[verify]", "acc[rel]"]}
    assert [m.key for m in headline_metrics("gqa", table)] == [
        "accuracy",
        "acc[binary]",
        "acc[open]",
        "acc[query]",
        "acc[verify]",
    ]
    records = [
        {"id": "02", "score": 100.0, "structural": "query"},
        {"id": "01", "score": 0.0, "structural": "verify"},
        {"id": "03", "score": 100.0, "structural": "verify"},
    ]
    units = task_units("gqa", {}, records)
    assert units is not None and units.ids == ["01", "02", "03"]
    w = np.ones((1, 3))
    assert units.stats["accuracy"](w)[0] == pytest.approx(200 / 3)
    assert units.stats["acc[open]"](w)[0] == 100.0 and units.stats["acc[binary]"](w)[0] == 50.0
    assert units.stats["acc[verify]"](w)[0] == 50.0
