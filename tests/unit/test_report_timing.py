"""The documented speed: 2,000 resamples over 5,000 COCO-sized caption records, in seconds."""

from __future__ import annotations

import json
import time

import numpy as np

from blip2_bench.report.compare import build_report
from blip2_bench.report.runs import find_runs
from tests.unit.test_report_synthetic import write_run


def caption_run(path, seed: int, n: int = 5000, backend: str = "a"):
    """A coco_caption run with per-image metrics and sufficient statistics of plausible sizes."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        testlen = int(rng.integers(8, 14))
        guess = [max(0, testlen - k) for k in range(4)]
        correct = [int(rng.integers(0, g + 1)) for g in guess]
        meteor = [float(testlen), 11.0, 4.0, 4.0, *rng.integers(0, 4, size=16).astype(float), 3.0, 6.0, 6.0]
        records.append({
            "id": str(i), "image_id": i, "CIDEr": float(rng.gamma(2.0, 0.6)), "ROUGE_L": float(rng.random()),
            "stats": {"bleu": [float(testlen), 11.0, *map(float, guess), *map(float, correct)], "meteor": meteor},
        })
    table = {"CIDEr x100": 100 * float(np.mean([r["CIDEr"] for r in records])), "Bleu_4 x100": 40.0,
             "METEOR x100": 30.0, "ROUGE_L x100": 100 * float(np.mean([r["ROUGE_L"] for r in records]))}
    results = {"complete": True, "backend": {"id": backend, "model": f"local/{backend}"}, "tasks": {"coco_caption": {
        "version": 1, "table": table, "scores": {}, "sample_set": "s", "n_samples": n, "n_predicted": n}}}
    return write_run(path, json.loads(json.dumps(results)), {"coco_caption": records})


def test_two_pairings_5000_images_2000_resamples_in_seconds(tmp_path):
    runs = find_runs([caption_run(tmp_path / "a", 1), caption_run(tmp_path / "b", 2, backend="b")])
    started = time.perf_counter()
    report = build_report(runs, resamples=2000)
    seconds = time.perf_counter() - started
    (task,) = report.tasks
    assert task.n_units == 5000 and all(task.cells[x]["Bleu_4 x100"].ci is not None for x in ("a", "b"))
    print(f"bootstrap: 2 pairings x 4 metrics, 5000 images, 2000 resamples: {seconds:.2f} s")
    assert seconds < 60  # loose: shared CI machines; the figure in docs/report.md is measured
