"""Print the wall time of `blip2-bench score coco_caption --spice off` against plain pycocoevalcap.

Usage: python benchmarks/caption_scoring.py [--images 5000] [--refs 5] [--repeats 3] [--seed 0] [--serial-too]
       [--scorers-only]

Builds a COCO-format annotation file (images x refs raw human-style captions) and a results
file of generated-looking captions, then times, each as a fresh process (so each pays its own
JVM start-ups, as a user does), alternating: ours, and benchmarks/_official_caption_driver.py
(PTBTokenizer twice, then Bleu(4), Meteor, Rouge, Cider one after the other); with --serial-too
also ours with METEOR waited for before the other scorers run (what parallel METEOR saves).
Prints min and median wall seconds, the ratios of medians, and the largest score difference
(expected 0). Then, in this process on the same PTB-tokenized captions, it times the n-gram
scorers alone, alternating: blip2-bench's numpy BLEU-1..4 + ROUGE-L + CIDEr-D against
pycocoevalcap's Bleu(4), Rouge and Cider classes, and checks the values are equal (==, corpus
and per image). Nothing here asserts a target.
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


def _ngram_scorers(gt: Path, pred: Path, repeats: int) -> None:
    """Time BLEU + ROUGE-L + CIDEr-D, ours against pycocoevalcap's classes, on one tokenization."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    from blip2_bench.data.coco_captions import read_coco_caption_file
    from blip2_bench.metrics.bleu_cider import bleu_scores, bleu_statistics, cider_d, ngram_table
    from blip2_bench.metrics.captions import tokenize
    from blip2_bench.metrics.rouge_l import rouge_l

    refs = read_coco_caption_file(gt, "annotations").refs
    preds = {int(p["image_id"]): p["caption"] for p in json.loads(pred.read_text())}
    gts, res, _ = tokenize(refs, preds)
    ids = list(gts)

    ref_lists, candidates = [gts[i] for i in ids], [res[i][0] for i in ids]

    def ours_bleu_cider() -> list:
        table = ngram_table(ref_lists, candidates)
        cider, cider_per_image = cider_d(table)
        return [bleu_scores(bleu_statistics(table)), (cider, list(cider_per_image))]

    def official_bleu_cider() -> list:
        cider, cider_per_image = Cider().compute_score(gts, res)
        return [Bleu(4).compute_score(gts, res, verbose=0), (cider, list(cider_per_image))]

    def ours_rouge() -> tuple:
        rouge, per_image = rouge_l(ref_lists, candidates)
        return rouge, list(per_image)

    def official_rouge() -> tuple:
        rouge, per_image = Rouge().compute_score(gts, res)
        return rouge, list(per_image)

    runs = {
        "BLEU-1..4 + CIDEr-D": (ours_bleu_cider, official_bleu_cider),
        "ROUGE-L": (ours_rouge, official_rouge),
    }
    times = {(metric, side): [] for metric in runs for side in ("ours", "official")}
    same = {}
    for _ in range(repeats):
        for metric, pair in runs.items():
            values = []
            for side, run in zip(("ours", "official"), pair, strict=True):
                started = time.perf_counter()
                values.append(run())
                times[metric, side].append(time.perf_counter() - started)
            same[metric] = values[0] == values[1]
    print("n-gram scorers on the same PTB tokens, in this process (alternating):")
    for metric in runs:
        ours, official = times[metric, "ours"], times[metric, "official"]
        ratio = statistics.median(official) / statistics.median(ours)
        print(
            f"  {metric:<20} blip2-bench min {min(ours):5.2f} s median {statistics.median(ours):5.2f} s | "
            f"pycocoevalcap min {min(official):5.2f} s median {statistics.median(official):5.2f} s | "
            f"{ratio:5.1f}x | values identical (corpus, per image): {same[metric]}"
        )
    ours_total = statistics.median([sum(t) for t in zip(*(times[m, "ours"] for m in runs), strict=True)])
    official_total = statistics.median([sum(t) for t in zip(*(times[m, "official"] for m in runs), strict=True)])
    print(f"  {'all three':<20} {official_total / ours_total:.1f}x (medians of the summed times)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--refs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--serial-too", action="store_true", help="also time ours with METEOR not in parallel")
    parser.add_argument("--scorers-only", action="store_true", help="time only the in-process n-gram scorers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="caption-bench-") as tmp:
        root = Path(tmp)
        gt, pred = write_files(root, args.images, args.refs, args.seed)
        _ngram_scorers(gt, pred, args.repeats)
        if args.scorers_only:
            return
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
