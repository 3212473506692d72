"""Score a COCO caption results file with pycocoevalcap alone, as COCOEvalCap.evaluate does, minus SPICE.

Usage: python benchmarks/_official_caption_driver.py ANNOTATIONS RESULTS OUT_JSON

COCOEvalCap.evaluate takes, for each image of the results (in the annotation file's image
order, as COCO.loadRes keeps it), the image's annotations and results, tokenizes references and
candidates in two PTBTokenizer runs, then runs Bleu(4), Meteor(), Rouge() and Cider() one after
the other. That is restated here without pycocotools' indexing and without SPICE (pycocoevalcap's
Spice() downloads Stanford CoreNLP).
"""

from __future__ import annotations

import json
import sys

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer


def main(annotations: str, results: str, out: str) -> None:
    with open(annotations) as f:
        gt = json.load(f)
    with open(results) as f:
        predictions = json.load(f)
    refs: dict[int, list[dict]] = {}
    for ann in gt["annotations"]:
        refs.setdefault(ann["image_id"], []).append(ann)
    cands: dict[int, list[dict]] = {}
    for pred in predictions:
        cands.setdefault(pred["image_id"], []).append(pred)
    ids = [img["id"] for img in gt["images"] if img["id"] in cands]
    tokenizer = PTBTokenizer()
    gts = tokenizer.tokenize({i: refs[i] for i in ids})
    res = tokenizer.tokenize({i: cands[i] for i in ids})
    scores: dict[str, float] = {}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    scores.update({f"Bleu_{n}": float(v) for n, v in enumerate(bleu, start=1)})
    for name, scorer in (("METEOR", Meteor()), ("ROUGE_L", Rouge()), ("CIDEr", Cider())):
        scores[name] = float(scorer.compute_score(gts, res)[0])
    with open(out, "w") as f:
        json.dump(scores, f)


if __name__ == "__main__":
    main(*sys.argv[1:4])
