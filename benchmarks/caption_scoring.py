"""Print the wall time of `blip2-bench score coco_caption --spice off` against plain pycocoevalcap.

Usage: python benchmarks/caption_scoring.py [--images 5000] [--refs 5] [--repeats 3] [--seed 0] [--serial-too]

Builds a COCO-format annotation file (images x refs raw human-style captions) and a results
file of generated-looking captions, then times, each as a fresh process (so each pays its own
JVM start-ups, as a user does), alternating: ours, and benchmarks/_official_caption_driver.py
(PTBTokenizer twice, then Bleu(4), Meteor, Rouge, Cider one after the other); with --serial-too
also ours with METEOR waited for before the other scorers run (what parallel METEOR saves).
Prints min and median wall seconds, the ratios of medians, and the largest score difference
(expected 0). Nothing here asserts a target.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
_DET = ("A", "a", "The", "the", "Two", "Some", "An old", "A young", "Three")
_NOUNS = "dog cat man woman bus train giraffe horse child people skateboarder pizza plate bike elephant".split()
_VERBS = ("sitting on", "riding", "standing next to", "looking at", "walking down", "eating", "holding", "near")
_PLACES = "a couch|the street|a wooden table|a grassy field|the beach|a bed|a kitchen counter|a sidewalk".split("|")
_ADJ = "red blue small large white black brown green tall happy".split()


def _caption(rng: random.Random) -> str:
    words = [rng.choice(_DET), rng.choice(_ADJ) if rng.random() < 0.5 else "", rng.choice(_NOUNS)]
    words += [rng.choice(_VERBS), rng.choice(_PLACES)]
    text = " ".join(w for w in words if w)
    if rng.random() < 0.3:
        text += f" with a {rng.choice(_ADJ)} {rng.choice(_NOUNS)}"
    return text + rng.choice(("", ".", " .", "!", ", outside."))


def write_files(root: Path, n_images: int, n_refs: int, seed: int) -> tuple[Path, Path]:
    rng = random.Random(seed)
    images = [{"id": 100000 + k} for k in range(n_images)]
    annotations, predictions = [], []
    for image in images:
        refs = [_caption(rng) for _ in range(n_refs)]
        annotations += [{"image_id": image["id"], "id": len(annotations) + j, "caption": c} for j, c in enumerate(refs)]
        # A model's caption: one reference, lower-cased, some words dropped or added.
        words = [w for w in rng.choice(refs).lower().rstrip(".!").split() if rng.random() > 0.2]
        predictions.append({"image_id": image["id"], "caption": " ".join(words + rng.sample(_NOUNS, rng.randrange(2)))})
    gt, pred = root / "captions_gt.json", root / "predictions.json"
    gt.write_text(json.dumps({"images": images, "annotations": annotations}))
    pred.write_text(json.dumps(predictions))
    return gt, pred


# Ours with METEOR scored before the other scorers start (score_tokenized(parallel=False)).
_SERIAL = (
    "import functools, sys; import blip2_bench.metrics.captions as c; "
    "c.score_tokenized = functools.partial(c.score_tokenized, parallel=False); "
    "from blip2_bench.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} ... failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--refs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--serial-too", action="store_true", help="also time ours with METEOR not in parallel")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="caption-bench-") as tmp:
        root = Path(tmp)
        gt, pred = write_files(root, args.images, args.refs, args.seed)
        out = {name: root / f"{name}.json" for name in ("ours", "official", "serial")}
        score = ["score", "coco_caption", "--annotations", str(gt), "--predictions", str(pred), "--spice", "off"]
        commands = {
            "ours": [sys.executable, "-m", "blip2_bench.cli", *score, "--json", str(out["ours"])],
            "official": [
                sys.executable,
                str(HERE / "_official_caption_driver.py"),
                str(gt),
                str(pred),
                str(out["official"]),
            ],
        }
        if args.serial_too:
            commands["serial"] = [sys.executable, "-c", _SERIAL, *score, "--json", str(out["serial"])]
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeats):
            for name, cmd in commands.items():
                times[name].append(_timed(cmd))
        scores = {name: json.loads(out[name].read_text()) for name in commands}
    official = scores["official"]
    diff = max(abs(scores[name][k] - official[k]) for name in commands for k in official)
    labels = {
        "ours": "blip2-bench score coco_caption",
        "serial": "  same, METEOR not in parallel",
        "official": "pycocoevalcap scorers",
    }
    print(f"caption scoring, {args.images} images x {args.refs} references, SPICE off, fresh process each:")
    for name in commands:
        ts = times[name]
        print(
            f"  {labels[name]:<32} min {min(ts):6.2f} s  median {statistics.median(ts):6.2f} s  ({args.repeats} runs)"
        )
    median = {name: statistics.median(ts) for name, ts in times.items()}
    print(f"  pycocoevalcap / ours (medians): {median['official'] / median['ours']:.2f}x")
    if "serial" in median:
        print(f"  ours serial / ours parallel (medians): {median['serial'] / median['ours']:.2f}x")
    print(f"  largest score difference from pycocoevalcap: {diff:.3g}")


if __name__ == "__main__":
    main()
