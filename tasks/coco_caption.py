"""COCO captioning, Karpathy test split (BLIP-2 paper Table 3), scored as pycocoevalcap does.

The captioning protocol (prompt, lengths, pinned penalties, the min-length reading) lives in
blip2_bench/task_api/captioning.py, shared with nocaps.

Changelog:
- v1: the protocol above; pycocoevalcap 1.2 metrics (PTB tokenizer once per evaluation),
  SPICE only when its jars and a Java that runs it are present.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blip2_bench.data.coco_captions import CaptionSample, load_karpathy_dataset, load_lavis_karpathy
from blip2_bench.data.locate import COCO_IMAGE_ROOTS, find_in_root
from blip2_bench.errors import BadInputError
from blip2_bench.scoring.captions import coco_caption_scores, metric_impl, paper_table
from blip2_bench.task_api.captioning import CaptionProtocolOptions, CaptionTask
from blip2_bench.types import TaskScores


@dataclass(frozen=True)
class CocoCaptionOptions(CaptionProtocolOptions):
    split: str = "test"
    """Karpathy split: test (5,000 images, the paper's) or val."""
    source: str = "auto"
    """lavis: coco_karpathy_<split>.json + _gt; karpathy: dataset_coco.json; auto: whichever is found."""
    annotations_file: str | None = None
    gt_file: str | None = None
    image_root: str | None = None
    """Folder holding val2014/ (the paths in the files are relative to it)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.split not in ("test", "val"):
            raise BadInputError(f"task.coco_caption.split must be 'test' or 'val', got {self.split!r}")
        if self.source not in ("auto", "lavis", "karpathy"):
            raise BadInputError(f"task.coco_caption.source must be auto, lavis or karpathy, got {self.source!r}")


_ANN_FOLDERS = ("", "annotations", "coco/annotations", "coco_gt", "coco")


class CocoCaptionTask(CaptionTask):
    name = "coco_caption"
    score_command = "blip2_bench.scoring.captions:coco_caption_main"
    version = 1
    Options = CocoCaptionOptions

    options: CocoCaptionOptions

    def _source(self) -> str:
        o = self.options
        if o.source != "auto":
            return o.source
        if o.annotations_file:  # LAVIS's file is a JSON list, Karpathy's an object
            with Path(o.annotations_file).open("rb") as f:
                return "lavis" if f.read(64).lstrip().startswith(b"[") else "karpathy"
        lavis = self._find(None, [f"coco_karpathy_{o.split}.json"], _ANN_FOLDERS)
        return (
            "lavis"
            if lavis.is_file() or not self._find(None, ["dataset_coco.json"], _ANN_FOLDERS).is_file()
            else "karpathy"
        )

    def _image_root(self) -> Path:
        root = find_in_root(
            self.data_root, [""], COCO_IMAGE_ROOTS, explicit=self.options.image_root, folder=True, holding="val2014"
        )
        return root if root.is_dir() else self.data_root

    def data_files(self) -> dict[str, Path]:
        o = self.options
        if o.annotations_file and not Path(o.annotations_file).is_file():
            raise BadInputError(f"COCO caption annotations file not found: {o.annotations_file}")
        if self._source() == "lavis":
            files = {
                "annotations": self._find(o.annotations_file, [f"coco_karpathy_{o.split}.json"], _ANN_FOLDERS),
                "gt": self._find(o.gt_file, [f"coco_karpathy_{o.split}_gt.json"], _ANN_FOLDERS),
            }
        else:
            files = {"annotations": self._find(o.annotations_file, ["dataset_coco.json"], _ANN_FOLDERS)}
        for role, path in files.items():
            if not path.is_file():
                raise BadInputError(
                    f"COCO caption {role} file not found: {path} (set task.coco_caption.{role}_file or data_root)"
                )
        if not self._image_root().is_dir():
            raise BadInputError(f"COCO image root not found: {self._image_root()} (set task.coco_caption.image_root)")
        self._check_java()
        return files

    def load(self, limit: int | None) -> Sequence[CaptionSample]:
        files = self.files()
        if "gt" in files:
            return load_lavis_karpathy(files["annotations"], files["gt"], self._image_root(), limit)
        return load_karpathy_dataset(files["annotations"], self.options.split, self._image_root(), limit)

    def score(self, samples: Sequence[CaptionSample], predictions: Mapping[str, str]) -> TaskScores:
        refs, preds, note = self._scored(samples, predictions)
        stats: dict[str, Any] = {}
        scores = coco_caption_scores(
            refs, preds, self.options.spice, note, stats_out=stats, scorers=self.options.scorers
        )
        records = self._records(samples, predictions, scores["per_image"], stats)
        return TaskScores(scores, records, paper_table(scores), metric_impl(scores, self.options.scorers))

    def exports(self, samples: Sequence[CaptionSample], predictions: Mapping[str, str]) -> dict[str, Any]:
        return {f"coco_karpathy_{self.options.split}_results.json": self._results_file(samples, predictions)}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "split": f"karpathy {self.options.split}", "source": self._source()}


TASK = CocoCaptionTask
