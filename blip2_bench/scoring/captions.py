"""Score caption results files (`[{"image_id", "caption"}]`) as pycocoevalcap's COCOEvalCap does.

The same functions build a run's `results.json` scores, so `blip2-bench score` on a run's
exported predictions gives back exactly the run's scores.
"""

from __future__ import annotations

import argparse
import importlib.metadata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..data.coco_captions import read_coco_caption_file
from ..data.json_files import read_keyed_results
from ..data.nocaps import domains_of
from ..errors import BadInputError
from ..files import atomic_write_json
from ..metrics.captions import DF_MODES, DOMAINS, METRIC_KEYS, SCORERS, evaluate_by_domain, evaluate_captions
from ..metrics.spice import SPICE_MODES, find_java, java_version


def read_predictions(path: Path) -> dict[int, str]:
    """image_id -> caption (one caption per image); an empty file is an error."""
    captions = read_keyed_results(path, "image_id", "caption")
    if not captions:
        raise BadInputError(f"{path}: no predictions")
    return captions


def coverage_note(
    image_ids: Sequence[int], predictions: Mapping[int, str], where: str, allow_partial: bool
) -> str | None:
    """Refuse unknown ids, and missing ones unless allowed; a note when only part is scored."""
    known = set(image_ids)
    unknown = [i for i in predictions if i not in known]
    if unknown:
        raise BadInputError(
            f"{where}: prediction for unknown image_id {unknown[0]} ({len(unknown)} unknown ids; "
            "not in the annotation file)"
        )
    missing = [i for i in image_ids if i not in predictions]
    if not missing:
        return None
    head = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
    if not allow_partial:
        raise BadInputError(
            f"{where}: no caption for {len(missing)} of {len(image_ids)} images (e.g. image_id {head}); "
            "the official evaluation scores every image (or pass --allow-partial)"
        )
    return (
        f"partial: scored {len(image_ids) - len(missing)} of {len(image_ids)} images ({len(missing)} without "
        f"a caption, e.g. {head}); CIDEr document frequencies come from the scored images' references only"
    )


def _with_notes(out: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    if notes:
        out["note"] = "; ".join(notes)
    return out


def coco_caption_scores(
    refs: Mapping[int, Sequence[str]],
    predictions: Mapping[int, str],
    spice: str,
    note: str | None = None,
    stats_out: dict[str, Any] | None = None,
    scorers: str = "numpy",
) -> dict[str, Any]:
    """COCOEvalCap.eval's keys and scale, plus per_image, not_computed and note.

    `stats_out`, when given, receives each image's corpus-metric sufficient statistics keyed by
    str(image_id) (for samples/<task>.jsonl: the report's bootstrap needs them; results.json does not).
    """
    result = evaluate_captions(refs, predictions, spice=spice, scorers=scorers)
    if stats_out is not None:
        stats_out.update({str(i): v for i, v in result.stats.items()})
    return _with_notes(result.to_json(), [n for n in [note, *result.notes] if n])


def nocaps_scores(
    refs: Mapping[int, Sequence[str]],
    predictions: Mapping[int, str],
    domains: Mapping[int, str],
    df: str,
    spice: str,
    note: str | None = None,
    stats_out: dict[str, Any] | None = None,
    scorers: str = "numpy",
) -> dict[str, Any]:
    """{"in-domain", "near-domain", "out-domain", "entire"} -> metrics, plus df, per_image, notes.

    `stats_out`: as coco_caption_scores (plus each image's CIDEr-D of the one pass over all images).
    """
    result = evaluate_by_domain(refs, predictions, domains, df=df, spice=spice, scorers=scorers)
    if stats_out is not None:
        stats_out.update({str(i): v for i, v in result.stats.items()})
    return _with_notes(result.to_json(), [n for n in [note, *result.notes] if n])


def metric_impl(scores: Mapping[str, Any], scorers: str = "numpy") -> str:
    spice = "SPICE 1.0" if "SPICE" in scores or "SPICE" in scores.get("entire", {}) else "no SPICE"
    java = find_java()
    version = importlib.metadata.version("pycocoevalcap")
    ngram = (
        f"BLEU, ROUGE-L, CIDEr-D by blip2-bench's numpy scorers (pycocoevalcap {version}'s arithmetic, same bits)"
        if scorers == "numpy"
        else f"BLEU, ROUGE-L, CIDEr-D by pycocoevalcap {version}'s classes"
    )
    return f"COCOEvalCap protocol (PTB tokenizer once, {ngram}, METEOR 1.5, {spice}); java {java_version(java)}"


def paper_table(scores: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Headline numbers x100, as the BLIP-2 paper prints them (results.json keeps the 0-1 scale)."""
    keys = [k for k in (*METRIC_KEYS, "SPICE") if k in scores]
    return {f"{prefix}{k} x100": 100 * float(scores[k]) for k in keys}


def nocaps_table(scores: Mapping[str, Any]) -> dict[str, float]:
    table: dict[str, float] = {}
    for domain in (*DOMAINS, "entire"):
        if domain in scores:
            part = {k: v for k, v in scores[domain].items() if k in ("CIDEr", "SPICE")}
            table.update(paper_table(part, prefix=f"{domain} "))
    return table


def _print(rows: Mapping[str, Mapping[str, Any]], out: Mapping[str, Any]) -> None:
    columns = list(rows)
    print("metric    " + "".join(f"{c:>13}" for c in columns) + "   (x100, as in the paper)")
    for key in (*METRIC_KEYS, "SPICE"):
        if all(key in rows[c] for c in columns):
            print(f"{key:<10}" + "".join(f"{100 * rows[c][key]:>13.2f}" for c in columns))
    for key, reason in out.get("not_computed", {}).items():
        print(f"{key}: not computed: {reason}")
    if "note" in out:
        print(f"NOTE: {out['note']}")


def _parser(prog: str, annotations_help: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Caption metrics as pycocoevalcap's COCOEvalCap.")
    parser.add_argument("--annotations", type=Path, required=True, help=annotations_help)
    parser.add_argument("--predictions", type=Path, required=True, help='[{"image_id": int, "caption": str}]')
    parser.add_argument("--allow-partial", action="store_true", help="score only the images with a caption")
    parser.add_argument("--spice", choices=SPICE_MODES, default="auto", help="auto: SPICE when it can run here")
    parser.add_argument(
        "--scorers",
        choices=SCORERS,
        default="numpy",
        help="who computes BLEU, ROUGE-L and CIDEr-D: numpy (fast, same bits) or pycocoevalcap's own classes",
    )
    parser.add_argument("--json", type=Path, help="write the scores here")
    return parser


def coco_caption_main(argv: list[str]) -> int:
    parser = _parser(
        "blip2-bench score coco_caption",
        'COCO caption format {"images": [{"id"}], "annotations": [{"image_id", "caption"}]} '
        "(e.g. LAVIS's coco_karpathy_test_gt.json)",
    )
    args = parser.parse_args(argv)
    gt = read_coco_caption_file(args.annotations, "annotation file")
    predictions = read_predictions(args.predictions)
    note = coverage_note(list(gt.refs), predictions, str(args.predictions), args.allow_partial)
    out = coco_caption_scores(gt.refs, predictions, args.spice, note, scorers=args.scorers)
    _print({"score": out}, out)
    if args.json:
        atomic_write_json(args.json, out)
    return 0


def nocaps_main(argv: list[str]) -> int:
    parser = _parser("blip2-bench score nocaps", "nocaps_val_4500_captions.json (images carry 'domain')")
    parser.add_argument(
        "--df",
        choices=DF_MODES,
        default="global",
        help="global: CIDEr per domain = mean per-image CIDEr of one pass over all images (the server's "
        "breakdown); per-domain: each domain scored alone (LAVIS)",
    )
    args = parser.parse_args(argv)
    gt = read_coco_caption_file(args.annotations, "NoCaps annotation file")
    domains = domains_of(gt)
    predictions = read_predictions(args.predictions)
    note = coverage_note(list(gt.refs), predictions, str(args.predictions), args.allow_partial)
    out = nocaps_scores(gt.refs, predictions, domains, args.df, args.spice, note, scorers=args.scorers)
    print(f"NoCaps (document frequencies: {args.df})")
    _print({k: out[k] for k in (*DOMAINS, "entire") if k in out}, out)
    if args.json:
        atomic_write_json(args.json, out)
    return 0
