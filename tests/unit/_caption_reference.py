"""The official implementation, as LAVIS calls it: pycocotools COCO + pycocoevalcap COCOEvalCap.

Two things are replaced while it runs, neither of which touches a score we compare:
SPICE (COCOEvalCap's Spice() would try to download Stanford CoreNLP, which cannot be had
here; its key is dropped from the comparison) and METEOR's start-up (one official Meteor
process, ~8 s to start, serves every reference evaluation of the session).
"""

from __future__ import annotations

import contextlib
import copy
import io
import random
from collections.abc import Sequence
from pathlib import Path
from unittest import mock

import pycocoevalcap.eval as official
from pycocoevalcap.meteor.meteor import Meteor
from pycocotools.coco import COCO

_meteor: Meteor | None = None


def _shared_meteor() -> Meteor:
    global _meteor
    if _meteor is None:
        _meteor = Meteor()
    return _meteor


class _NoSpice:
    def compute_score(self, gts, res):
        return 0.0, [0.0] * len(gts)

    def method(self) -> str:
        return "SPICE"


def official_eval(
    gt_file: Path, predictions: list[dict], image_ids: Sequence[int] | None = None
) -> tuple[dict[str, float], dict[int, dict[str, float]]]:
    """(COCOEvalCap.eval, imgToEval) without SPICE; `image_ids` as LAVIS's params["image_id"]."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt_file))
        result = coco.loadRes(copy.deepcopy(predictions))
        evaluator = official.COCOEvalCap(coco, result)
        if image_ids is not None:
            evaluator.params["image_id"] = list(image_ids)
        with mock.patch.object(official, "Spice", _NoSpice), mock.patch.object(official, "Meteor", _shared_meteor):
            evaluator.evaluate()
    scores = {k: float(v) for k, v in evaluator.eval.items() if k != "SPICE"}
    per_image = {
        image_id: {k: float(v) for k, v in values.items() if k not in ("image_id", "SPICE")}
        for image_id, values in evaluator.imgToEval.items()
    }
    return scores, per_image


_WORDS = ("a", "the", "dog", "cat", "man", "on", "street", "couch", "red", "bus", "two", "table", "grass", "of")


def unseen_predictions(refs: dict[int, Sequence[str]], seed: int) -> dict[int, str]:
    """Candidate captions the metrics were not developed on: edited references, noise, edge cases."""
    rng = random.Random(seed)
    out: dict[int, str] = {}
    for k, (image_id, captions) in enumerate(refs.items()):
        words = rng.choice(list(captions)).split()
        rng.shuffle(words) if rng.random() < 0.3 else None
        words = [w for w in words if rng.random() > 0.25] + rng.choices(_WORDS, k=rng.randrange(4))
        caption = " ".join(words)
        edge = k % 7
        if edge == 1:
            caption = ""  # empty: scored as the official code scores it
        elif edge == 3:
            caption = caption.upper() + ' "quoted" (brackets)...'
        elif edge == 5:
            caption = caption.replace(" ", "\n", 1) + " - it's"
        elif edge == 6:
            caption = "..."  # tokenizes to nothing
        out[image_id] = caption
    return out
