"""NoCaps zero-shot captioning (BLIP-2 paper Table 3): val scored per domain, test exported for the server.

Generation follows coco_caption's protocol (the paper evaluates the COCO-fine-tuned models
zero-shot on NoCaps; LAVIS had no BLIP-2 NoCaps config then). Scores: in-domain, near-domain,
out-domain and entire, with the domain read from each image of the NoCaps file. CIDEr's
document frequencies: `df=global` (default) takes them from one pass over all images and
averages per-image CIDEr within each domain, which is consistent with the official server's
published breakdowns; `df=per-domain` scores each domain alone, as LAVIS does (its img_ids
filter). results.json records which.

Changelog:
- v1: coco_caption v1's protocol; per-domain scores under both df conventions; server export.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blip2_bench.data.coco_captions import CaptionSample
from blip2_bench.data.locate import find_in_root
from blip2_bench.data.nocaps import load_nocaps
from blip2_bench.errors import BadInputError
from blip2_bench.metrics.captions import DF_MODES
from blip2_bench.scoring.captions import metric_impl, nocaps_scores, nocaps_table
from blip2_bench.task_api.captioning import CaptionProtocolOptions, CaptionTask
from blip2_bench.types import TaskScores

FILES = {"val": "nocaps_val_4500_captions.json", "test": "nocaps_test_image_info.json"}


@dataclass(frozen=True)
class NocapsOptions(CaptionProtocolOptions):
    split: str = "val"
    """val (4,500 images, scored) or test (no references: exports the server submission only)."""
    annotations_file: str | None = None
    """Default: <data_root>/nocaps_val_4500_captions.json (or nocaps_test_image_info.json)."""
    image_dir: str | None = None
    """Default: <data_root>/<split>/ (nocaps.org's layout: val/<open_images_id>.jpg)."""
    df: str = "global"
    """global: one CIDEr pass, per-image CIDEr averaged per domain (server); per-domain: LAVIS."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.split not in FILES:
            raise BadInputError(f"task.nocaps.split must be one of {list(FILES)}, got {self.split!r}")
        if self.df not in DF_MODES:
            raise BadInputError(f"task.nocaps.df must be one of {DF_MODES}, got {self.df!r}")


class NocapsTask(CaptionTask):
    name = "nocaps"
    score_command = "blip2_bench.scoring.captions:nocaps_main"
    version = 1
    Options = NocapsOptions

    options: NocapsOptions

    def _image_dir(self) -> Path:
        folders = ("", "nocaps", "images")
        return find_in_root(self.data_root, [self.options.split], folders, explicit=self.options.image_dir, folder=True)

    def data_files(self) -> dict[str, Path]:
        folders = ("", "annotations", "nocaps", "nocaps/annotations", "nocap/annotations")
        path = self._find(self.options.annotations_file, [FILES[self.options.split]], folders)
        if not path.is_file():
            raise BadInputError(f"NoCaps file not found: {path} (set task.nocaps.annotations_file or data_root)")
        if not self._image_dir().is_dir():
            raise BadInputError(f"NoCaps image folder not found: {self._image_dir()} (set task.nocaps.image_dir)")
        if self.options.split == "val":
            self._check_java()
        return {"annotations": path}

    def load(self, limit: int | None) -> Sequence[CaptionSample]:
        path = self.files()["annotations"]
        return load_nocaps(path, self._image_dir(), with_captions=self.options.split == "val", limit=limit)

    def score(self, samples: Sequence[CaptionSample], predictions: Mapping[str, str]) -> TaskScores:
        if self.options.split == "test":
            records = self._records(samples, predictions, {})
            note = "the NoCaps test split has no public references: submit exports/nocaps_test_results.json"
            return TaskScores({"note": note}, records, {}, "none (no references)")
        refs, preds, note = self._scored(samples, predictions)
        domains = {s.image_id: s.domain or "" for s in samples}
        stats: dict[str, Any] = {}
        scores = nocaps_scores(
            refs,
            preds,
            domains,
            self.options.df,
            self.options.spice,
            note,
            stats_out=stats,
            scorers=self.options.scorers,
        )
        records = self._records(samples, predictions, scores["per_image"], stats)
        return TaskScores(scores, records, nocaps_table(scores), metric_impl(scores, self.options.scorers))

    def exports(self, samples: Sequence[CaptionSample], predictions: Mapping[str, str]) -> dict[str, Any]:
        # What the NoCaps evaluation server takes: one {"image_id", "caption"} per image of the split.
        return {f"nocaps_{self.options.split}_results.json": self._results_file(samples, predictions)}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "split": self.options.split, "df": self.options.df}


TASK = NocapsTask
