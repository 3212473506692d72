"""Score retrieval score matrices (SCORES.npz: i2t, t2i) against annotations, as LAVIS's `_report_metrics`.

`--annotations` is the LAVIS list file (flickr30k_test.json, coco_karpathy_test.json) or
Karpathy's dataset_*.json (its test split): it fixes the text order (images in order,
each image's captions in order) that the matrices' rows and columns must follow.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..data.retrieval import RetrievalData, load_retrieval_annotations
from ..errors import BadInputError
from ..files import atomic_write_json
from ..metrics.retrieval import check_retrieval_inputs, recall_metrics

MATRICES = ("i2t", "t2i")


def read_score_matrices(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """The i2t (images x texts) and t2i (texts x images) arrays of an .npz file, and the image
    ids and captions per image of its rows when it says (a blip2-bench run's export does)."""
    if not path.is_file():
        raise BadInputError(f"predictions file not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a bare .npy array
            raise BadInputError(f"{path}: a single array, not an .npz holding i2t and t2i")
        with loaded as npz:
            missing = [k for k in MATRICES if k not in npz.files]
            if missing:
                raise BadInputError(
                    f"{path}: lacks array(s) {', '.join(missing)} (has: {', '.join(npz.files) or 'none'}); "
                    "expected i2t (images x texts) and t2i (texts x images)"
                )
            ids = (npz["image_ids"], npz["captions_per_image"]) if "image_ids" in npz.files else None
            return npz["i2t"], npz["t2i"], ids
    except BadInputError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise BadInputError(f"{path}: not a readable .npz of numeric arrays: {exc}") from None


def score_retrieval_files(annotations: Path, predictions: Path, dataset: str) -> dict[str, Any]:
    """LAVIS's metric dict for an annotations file and a SCORES.npz; bad input fails before ranking."""
    data: RetrievalData = load_retrieval_annotations(annotations, dataset)
    scores_i2t, scores_t2i, rows = read_score_matrices(predictions)
    if rows is not None:
        image_ids, per_image = rows
        if [str(i) for i in image_ids] != list(data.image_ids) or list(per_image) != [len(t) for t in data.img2txt]:
            raise BadInputError(
                f"{predictions}: its rows are other images or captions than {annotations} lists, "
                "or in another order (score with the annotations file the run used)"
            )
    for name, matrix in (("i2t", scores_i2t), ("t2i", scores_t2i)):
        if matrix.ndim != 2:
            raise BadInputError(f"{predictions}: {name} is {matrix.ndim}-D, expected a 2-D matrix")
    try:
        check_retrieval_inputs(scores_i2t, scores_t2i, data.txt2img, data.img2txt)
    except ValueError as exc:
        raise BadInputError(f"{predictions} vs {annotations}: {exc}") from None
    return recall_metrics(scores_i2t, scores_t2i, data.txt2img, data.img2txt)


def _print_table(title: str, scores: dict[str, Any]) -> None:
    print(title)
    print(f"  {'':<16}{'R@1':>8}{'R@5':>8}{'R@10':>8}{'mean':>8}")
    for label, prefix in (("text retrieval", "txt"), ("image retrieval", "img")):
        row = [scores[f"{prefix}_r{k}"] for k in (1, 5, 10)] + [scores[f"{prefix}_r_mean"]]
        print(f"  {label:<16}" + "".join(f"{v:>8.2f}" for v in row))
    print(f"  r_mean {scores['r_mean']:.2f}   agg_metrics (mean TR@1/5/10) {scores['agg_metrics']:.2f}")


def _main(argv: list[str], task: str, dataset: str, example: str) -> int:
    parser = argparse.ArgumentParser(
        prog=f"blip2-bench score {task}",
        description="Recall@1/5/10 of retrieval score matrices, as LAVIS's _report_metrics (ties: lower index first).",
    )
    parser.add_argument("--annotations", type=Path, required=True, help=f"{example} (or Karpathy's dataset_*.json)")
    parser.add_argument(
        "--predictions", type=Path, required=True, help="SCORES.npz with i2t (images x texts) and t2i (texts x images)"
    )
    parser.add_argument("--json", type=Path, help="write the scores here")
    args = parser.parse_args(argv)
    scores = score_retrieval_files(args.annotations, args.predictions, dataset)
    _print_table(f"{task} retrieval (LAVIS _report_metrics, percent)", scores)
    if args.json:
        atomic_write_json(args.json, scores)
    return 0


def flickr30k_main(argv: list[str]) -> int:
    return _main(argv, "flickr30k", "flickr30k", "flickr30k_test.json")


def coco_retrieval_main(argv: list[str]) -> int:
    return _main(argv, "coco_retrieval", "coco", "coco_karpathy_test.json")
