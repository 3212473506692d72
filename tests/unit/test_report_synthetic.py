"""Synthetic run directories (results.json, samples, COMPLETE) for the report tests, and their checks."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np

from blip2_bench.report.runs import load_run

TYPES = ("yes/no", "number", "other")


def vqa_results(
    scores: np.ndarray,
    backend: str = "pairing-a",
    model: str = "local/pairing-a",
    family: str = "opt",
    scorer: str = "official",
    dtype: str = "float32",
    sample_set: str = "s1",
    version: int = 1,
    prompt: str | None = None,
    n_predicted: int | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A VQAv2 run's results.json and sample records; `scores` are per-question accuracies (0-100)."""
    types = [TYPES[i % 3] for i in range(len(scores))]
    records = [
        {"id": str(1000 + i), "question_id": 1000 + i, "answer_type": t, "score": float(s), "prediction": "x"}
        for i, (s, t) in enumerate(zip(scores, types, strict=True))
    ]
    table = {"accuracy": float(np.mean(scores))}
    for t in TYPES:
        table[f"acc[{t}]"] = float(np.mean([s for s, tt in zip(scores, types, strict=True) if tt == t]))
    results = {
        "format": 1,
        "complete": True,
        "backend": {
            "id": backend,
            "model": model,
            "family": family,
            "dtype": dtype,
            "component_dtypes": {"vision_model": dtype, "language_model": dtype},
            "device": "cpu",
            "batch_size": 4,
            "image_processing": {"class": "BlipImageProcessor", "size": {"height": 224, "width": 224}, "resample": 3},
        },
        "tasks": {
            "vqav2": {
                "version": version,
                "scores": {"accuracy": table["accuracy"]},
                "table": table,
                "metric_impl": f"vqa_accuracy:{scorer}",
                "n_samples": len(scores),
                "n_predicted": len(scores) if n_predicted is None else n_predicted,
                "skipped_images": [],
                "sample_set": sample_set,
                "data_files": {"questions": {"path": "/x/q.json", "hash": "sha256:q"}},
                "settings": {
                    "prompts": {"all": prompt}
                    if prompt
                    else {"opt": "Question: {} Answer:", "t5": "Question: {} Short answer:"},
                    "generation": {"num_beams": 5, "max_new_tokens": 10, "min_new_tokens": 1, "length_penalty": -1.0},
                    "scorer": scorer,
                },
            }
        },
        "config": {"task": {"vqav2": {"split": "val", "scorer": scorer}}, "limit": None},
        "environment": {"versions": {"transformers": "5.24.0"}, "git_sha": "abc"},
    }
    return results, records


def write_run(path: Path, results: dict[str, Any], records: dict[str, list[dict[str, Any]]]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "results.json").write_text(json.dumps(results), encoding="utf-8")
    (path / "samples").mkdir(exist_ok=True)
    for task, recs in records.items():
        (path / "samples" / f"{task}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    (path / "COMPLETE").write_text("complete\n")
    return path


def vqa_run(path: Path, scores: np.ndarray, **kwargs: Any) -> Path:
    results, records = vqa_results(scores, **kwargs)
    return write_run(path, results, {"vqav2": records})


def quiz_scores(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    """VQA-like per-question accuracies: 100 with probability p, else 0 or 30."""
    return np.where(rng.random(n) < p, 100.0, rng.choice([0.0, 30.0], size=n))


def test_written_run_loads_back(tmp_path):
    scores = quiz_scores(np.random.default_rng(0), 30, 0.5)
    run = load_run(vqa_run(tmp_path / "a", scores))
    assert run.pairing == "pairing-a" and len(run.samples("vqav2")) == 30
    assert run.tasks["vqav2"]["table"]["accuracy"] == np.mean(scores)
    assert copy.deepcopy(run.results) == run.results
