"""Per task: the headline metrics (primary first, as the paper prints them) and bootstrap statistics.

Every statistic maps (B, n) count weights over the task's units to values on the scale of the
run's `table` (x100 for captions, percent for VQA and retrieval). Units: VQA a question, captions
an image, retrieval an image with its captions (its image query and its text queries).

CIDEr-D document frequencies are held fixed at those of the evaluated set (the run's own pass),
so a resample's CIDEr is the mean of its images' per-image CIDEr-D; re-estimating them from a
resample's references would move the interval by far less than its width on sets of thousands
of images (document frequencies are averages over every image). BLEU and METEOR are recomputed
from summed per-image sufficient statistics; ROUGE-L and SPICE are means of per-image values,
as pycocoevalcap's corpus scores are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .bootstrap import Statistic
from .caption_stats import BLEU_WIDTH, METEOR_WIDTH, corpus_bleu, corpus_meteor, meteor_rows

DOMAINS = ("in-domain", "near-domain", "out-domain")
RETRIEVAL_TASKS = ("flickr30k", "coco_retrieval")


@dataclass(frozen=True)
class Metric:
    key: str
    """The key in the run's `table`."""
    label: str
    decimals: int = 1
    """The BLIP-2 paper prints one decimal everywhere (Tables 2, 3, 5)."""
    primary: bool = False


@dataclass
class Units:
    """A task's resampling units and one statistic per metric that can be bootstrapped."""

    ids: list[str]
    stats: dict[str, Statistic]
    strata: np.ndarray | None = None
    missing: dict[str, str] = field(default_factory=dict)
    """metric key -> why it has no interval."""


def _vqa(table: dict[str, Any]) -> list[Metric]:
    metrics = [Metric("accuracy", "acc", primary=True)]
    return metrics + [Metric(f"acc[{t}]", t) for t in ("yes/no", "number", "other") if f"acc[{t}]" in table]


def _okvqa(table: dict[str, Any]) -> list[Metric]:
    # Table 2 prints the overall accuracy only; the per-category columns stay in the run's table.
    return [Metric("accuracy", "acc", primary=True)]


GQA_HEADLINE_TYPES = ("binary", "open", "query", "verify", "logical", "choose", "compare")
"""GQA's answer kinds and structural types (the official eval's first breakdowns); semantic types stay in
the run's table."""


def _gqa(table: dict[str, Any]) -> list[Metric]:
    return [Metric("accuracy", "acc", primary=True)] + [
        Metric(f"acc[{t}]", t) for t in GQA_HEADLINE_TYPES if f"acc[{t}]" in table
    ]


def _coco(table: dict[str, Any]) -> list[Metric]:
    wanted = [("CIDEr", "CIDEr"), ("Bleu_4", "B@4"), ("METEOR", "METEOR"), ("ROUGE_L", "ROUGE-L"), ("SPICE", "SPICE")]
    return [Metric(f"{k} x100", label, primary=k == "CIDEr") for k, label in wanted if f"{k} x100" in table]


def _nocaps(table: dict[str, Any]) -> list[Metric]:
    short = {"entire": "overall", "in-domain": "in", "near-domain": "near", "out-domain": "out"}
    out = []
    for metric in ("CIDEr", "SPICE"):
        for domain in ("entire", *DOMAINS):
            key = f"{domain} {metric} x100"
            if key in table:
                out.append(Metric(key, f"{short[domain]} {metric}", primary=key == "entire CIDEr x100"))
    return out


def _retrieval(table: dict[str, Any]) -> list[Metric]:
    keys = [(f"txt_r{k}", f"TR@{k}") for k in (1, 5, 10)] + [(f"img_r{k}", f"IR@{k}") for k in (1, 5, 10)]
    return [Metric(key, label, primary=key == "txt_r1") for key, label in keys if key in table]


def headline_metrics(task: str, table: dict[str, Any]) -> list[Metric]:
    """The columns for a task, primary first; an unknown task shows its table in order."""
    known = {"vqav2": _vqa, "okvqa": _okvqa, "gqa": _gqa, "coco_caption": _coco, "nocaps": _nocaps}
    if task in known:
        metrics = known[task](table)
    elif task in RETRIEVAL_TASKS:
        metrics = _retrieval(table)
    else:
        metrics = [Metric(k, k, decimals=2, primary=i == 0) for i, k in enumerate(table)]
    return metrics or [Metric(k, k, decimals=2, primary=i == 0) for i, k in enumerate(table)]


# --- statistics -----------------------------------------------------------------------------
def _mean_of(values: np.ndarray, mask: np.ndarray | None = None, scale: float = 1.0) -> Statistic:
    mask = np.ones(len(values)) if mask is None else mask.astype(np.float64)
    numerator = np.where(mask > 0, values, 0.0) * mask

    def stat(w: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return scale * (w @ numerator) / (w @ mask)

    return stat


def _by_id(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: str(r["id"]))


def _vqa_units(records: Sequence[dict[str, Any]]) -> Units:
    recs = [r for r in _by_id(records) if r.get("score") is not None]
    scores = np.array([float(r["score"]) for r in recs])
    types = np.array([str(r.get("answer_type")) for r in recs])
    stats = {"accuracy": _mean_of(scores)}
    for t in ("yes/no", "number", "other"):
        stats[f"acc[{t}]"] = _mean_of(scores, types == t)
    return Units([str(r["id"]) for r in recs], stats)


def _gqa_units(records: Sequence[dict[str, Any]]) -> Units:
    recs = [r for r in _by_id(records) if r.get("score") is not None]
    scores = np.array([float(r["score"]) for r in recs])
    structural = np.array([str(r.get("structural")) for r in recs])
    stats = {"accuracy": _mean_of(scores)}
    stats["acc[binary]"] = _mean_of(scores, structural != "query")
    stats["acc[open]"] = _mean_of(scores, structural == "query")
    for t in GQA_HEADLINE_TYPES[2:]:
        stats[f"acc[{t}]"] = _mean_of(scores, structural == t)
    return Units([str(r["id"]) for r in recs], stats)


def _stat_matrix(recs: Sequence[dict[str, Any]], name: str, width: int) -> np.ndarray | None:
    rows = [(r.get("stats") or {}).get(name) for r in recs]
    if any(not isinstance(row, list) or len(row) != width for row in rows):
        return None
    return np.array(rows, dtype=np.float64)


def _caption_stats(recs: Sequence[dict[str, Any]], mask: np.ndarray | None, prefix: str, units: Units) -> None:
    """BLEU-1..4 and METEOR of the images in `mask` from summed sufficient statistics."""
    m = np.ones(len(recs)) if mask is None else mask.astype(np.float64)
    bleu = _stat_matrix(recs, "bleu", BLEU_WIDTH)
    meteor = _stat_matrix(recs, "meteor", METEOR_WIDTH)
    reason = "the run's samples carry no sufficient statistics (a run from before they were recorded)"
    for k in range(1, 5):
        key = f"{prefix}Bleu_{k} x100"
        if bleu is None:
            units.missing[key] = reason
        else:
            units.stats[key] = (lambda b, kk: lambda w: 100 * corpus_bleu((w * m) @ b)[:, kk])(bleu, k - 1)
    if meteor is None:
        units.missing[f"{prefix}METEOR x100"] = reason
    else:
        rows = meteor_rows(meteor)
        units.stats[f"{prefix}METEOR x100"] = lambda w: 100 * corpus_meteor((w * m) @ rows)


def _per_image(recs: Sequence[dict[str, Any]], key: str) -> np.ndarray | None:
    values = [r.get(key) for r in recs]
    if any(not isinstance(v, int | float) for v in values):
        return None
    return np.array(values, dtype=np.float64)


def _caption_units(task: str, info: dict[str, Any], records: Sequence[dict[str, Any]]) -> Units:
    recs = _by_id(records)
    units = Units([str(r["id"]) for r in recs], {})
    parts: list[tuple[str, np.ndarray | None]] = [("", None)]
    if task == "nocaps":
        domains = np.array([str(r.get("domain")) for r in recs])
        units.strata = np.unique(domains, return_inverse=True)[1]
        parts = [("entire ", None)] + [(f"{d} ", domains == d) for d in DOMAINS]
    df = (info.get("scores") or {}).get("df", "global")
    for prefix, mask in parts:
        for name in ("CIDEr", "ROUGE_L", "SPICE"):
            source = name
            if name == "CIDEr" and prefix == "entire " and df == "per-domain":
                source = "cider_entire"  # the one-pass CIDEr-D, kept beside the per-domain one
                values = np.array([(r.get("stats") or {}).get(source, np.nan) for r in recs], dtype=np.float64)
                values = None if np.isnan(values).any() else values
            else:
                values = _per_image(recs, source)
            if values is not None:
                units.stats[f"{prefix}{name} x100"] = _mean_of(values, mask, scale=100.0)
            elif name != "SPICE":
                units.missing[f"{prefix}{name} x100"] = f"samples lack per-image {source}"
        _caption_stats(recs, mask, prefix, units)
    return units


def _retrieval_units(records: Sequence[dict[str, Any]]) -> Units:
    images = sorted((r for r in records if r.get("kind") == "image"), key=lambda r: str(r["image_id"]))
    texts = [r for r in records if r.get("kind") == "text"]
    index = {str(r["image_id"]): i for i, r in enumerate(images)}
    owner = np.array([index[str(t["image_id"])] for t in texts], dtype=np.int64)
    image_ranks = np.array([int(r["rank"]) for r in images])
    text_ranks = np.array([int(t["rank"]) for t in texts])
    stats: dict[str, Statistic] = {}
    for k in (1, 5, 10):
        stats[f"txt_r{k}"] = _mean_of((image_ranks < k).astype(np.float64), scale=100.0)
        hits = (text_ranks < k).astype(np.float64)
        stats[f"img_r{k}"] = (lambda h: lambda w: 100 * (w[:, owner] @ h) / w[:, owner].sum(1))(hits)
    return Units([str(r["image_id"]) for r in images], stats)


def task_units(task: str, info: dict[str, Any], records: Sequence[dict[str, Any]] | None) -> Units | None:
    """The bootstrap units of a run's task, or None when its samples cannot give intervals."""
    if not records:
        return None
    if task in ("vqav2", "okvqa"):  # okvqa: VQA accuracy per question, the same units
        return _vqa_units(records)
    if task == "gqa":
        return _gqa_units(records)
    if task in ("coco_caption", "nocaps"):
        return _caption_units(task, info, records)
    if task in RETRIEVAL_TASKS:
        return _retrieval_units(records)
    return None
