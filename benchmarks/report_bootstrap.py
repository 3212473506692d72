"""Print the comparison report's bootstrap time: 2 pairings x 5,000 COCO-sized caption records x
4 metrics (CIDEr, B@4, METEOR, ROUGE-L), paired differences included.

Usage: python benchmarks/report_bootstrap.py [--images 5000] [--resamples 2000] [--repeats 3]
Prints min/median wall seconds over the repeats; nothing here asserts a target.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from blip2_bench.report.compare import build_report
from blip2_bench.report.runs import find_runs


def caption_run(path: Path, seed: int, n: int, backend: str) -> Path:
    """A finished coco_caption run with per-image metrics and sufficient statistics of plausible sizes."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        testlen = int(rng.integers(8, 14))
        guess = [max(0, testlen - k) for k in range(4)]
        correct = [int(rng.integers(0, g + 1)) for g in guess]
        meteor = [float(testlen), 11.0, 4.0, 4.0, *rng.integers(0, 4, size=16).astype(float), 3.0, 6.0, 6.0]
        bleu = [float(testlen), 11.0, *map(float, guess), *map(float, correct)]
        cider, rouge = float(rng.gamma(2.0, 0.6)), float(rng.random())
        records.append(
            {"id": str(i), "image_id": i, "CIDEr": cider, "ROUGE_L": rouge, "stats": {"bleu": bleu, "meteor": meteor}}
        )
    table = {
        "CIDEr x100": 100 * float(np.mean([r["CIDEr"] for r in records])),
        "Bleu_4 x100": 40.0,
        "METEOR x100": 30.0,
        "ROUGE_L x100": 100 * float(np.mean([r["ROUGE_L"] for r in records])),
    }
    task = {"version": 1, "table": table, "scores": {}, "sample_set": "s", "n_samples": n, "n_predicted": n}
    results = {
        "complete": True,
        "backend": {"id": backend, "model": f"local/{backend}"},
        "tasks": {"coco_caption": task},
    }
    path.mkdir(parents=True)
    (path / "results.json").write_text(json.dumps(results))
    (path / "samples").mkdir()
    (path / "samples" / "coco_caption.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (path / "COMPLETE").write_text("complete\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runs = find_runs([caption_run(root / "a", 1, args.images, "a"), caption_run(root / "b", 2, args.images, "b")])
        seconds = []
        for _ in range(args.repeats):
            for run in runs:  # per-sample records are cached on the Run: read them anew each time
                run._samples.clear()
            started = time.perf_counter()
            build_report(runs, resamples=args.resamples)
            seconds.append(time.perf_counter() - started)
    print(
        f"report bootstrap: 2 pairings x 4 caption metrics x {args.images} images x {args.resamples} resamples: "
        f"min {min(seconds):.2f} s, median {statistics.median(seconds):.2f} s over {args.repeats} repeats"
    )


if __name__ == "__main__":
    main()
