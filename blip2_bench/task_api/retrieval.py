"""Shared body of the image-text retrieval tasks (flickr30k, coco_retrieval): LAVIS's protocol."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..data.locate import find_in_root
from ..data.retrieval import RetrievalData, load_karpathy, load_lavis_list
from ..errors import BadInputError
from ..metrics.retrieval import query_ranks, recall_metrics
from ..text import blip_caption
from ..types import TaskScores
from . import RetrievalPlan, RetrievalTask

SOURCES = ("lavis", "karpathy")


@dataclass(frozen=True)
class RetrievalOptions:
    source: str = "lavis"
    """lavis: the BLIP/LAVIS list file ({"image", "caption": [...]}); karpathy: Karpathy's dataset_*.json."""
    annotations_file: str | None = None
    image_root: str | None = None
    split: str = "test"
    """Karpathy split to evaluate (the LAVIS list files hold one split each)."""
    rerank: bool = True
    """Re-rank each query's top k_test candidates with ITM logit + ITC similarity (LAVIS)."""
    k_test: int = 128
    text_batch_size: int = 256
    itm_batch_size: int = 128

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise BadInputError(f"retrieval source must be one of {SOURCES}, got {self.source!r}")
        for key in ("k_test", "text_batch_size", "itm_batch_size"):
            if getattr(self, key) < 1:
                raise BadInputError(f"retrieval option {key} must be >= 1, got {getattr(self, key)}")


class ImageTextRetrievalTask(RetrievalTask):
    """Subclasses name their dataset, default files and where images live."""

    Options = RetrievalOptions
    dataset: ClassVar[str]
    lavis_files: ClassVar[tuple[str, ...]]
    karpathy_file: ClassVar[str]
    image_roots: ClassVar[tuple[str, ...]]
    """Folders under data_root that may be the image root, in order."""
    image_folder: ClassVar[str | None] = None
    """A folder the image root must hold (e.g. COCO's val2014), when the file paths start with it."""

    options: RetrievalOptions

    def _annotations(self) -> Path:
        names = self.lavis_files if self.options.source == "lavis" else (self.karpathy_file,)
        return find_in_root(self.data_root, names, explicit=self.options.annotations_file)

    def _image_root(self) -> Path:
        root = find_in_root(
            self.data_root,
            [""],
            self.image_roots,
            explicit=self.options.image_root,
            folder=True,
            holding=self.image_folder,
        )
        return root if root.is_dir() else self.data_root

    def data_files(self) -> dict[str, Path]:
        path = self._annotations()
        if not path.is_file():
            raise BadInputError(
                f"{self.name} annotations not found: {path} (set task.{self.name}.annotations_file or data_root)"
            )
        return {"annotations": path}

    def load(self, limit: int | None) -> RetrievalData:
        path, root = self.files()["annotations"], self._image_root()
        if self.options.source == "lavis":
            return load_lavis_list(path, root, self.dataset, limit)
        return load_karpathy(path, root, self.options.split, limit, dataset=self.dataset)

    def model_texts(self, data: RetrievalData) -> list[str]:
        # LAVIS retrieval datasets run captions through blip_caption (max 50 words) before tokenizing.
        return [blip_caption(t) for t in data.texts]

    def plan(self) -> RetrievalPlan:
        o = self.options
        return RetrievalPlan(o.rerank, o.k_test, o.text_batch_size, o.itm_batch_size)

    def score(self, data: RetrievalData, scores_i2t: np.ndarray, scores_t2i: np.ndarray) -> TaskScores:
        metrics = recall_metrics(scores_i2t, scores_t2i, data.txt2img, data.img2txt)
        image_ranks, text_ranks = query_ranks(scores_i2t, scores_t2i, data.txt2img, data.img2txt)
        records: list[dict[str, Any]] = [
            {
                "id": f"image:{image_id}",
                "kind": "image",
                "image_id": image_id,
                "rank": rank,
                "texts": list(data.img2txt[i]),
            }
            for i, (image_id, rank) in enumerate(zip(data.image_ids, image_ranks, strict=True))
        ]
        records += [
            {
                "id": f"text:{t}",
                "kind": "text",
                "image_id": data.image_ids[data.txt2img[t]],
                "caption": text,
                "rank": rank,
            }
            for t, (text, rank) in enumerate(zip(data.texts, text_ranks, strict=True))
        ]
        impl = "lavis_report_metrics" + ("+itm_rerank" if self.options.rerank else "+itc_only")
        return TaskScores(metrics, records, dict(metrics), impl)

    def describe(self) -> dict[str, Any]:
        return {
            **asdict(self.options),
            "text_preprocessing": "lavis blip_caption (max 50 words), 35 tokens",
            "itc": "max over query embeddings of query . text CLS",
            "rerank_score": "ITM positive logit (mean over queries) + ITC similarity; others -100",
            "ties": "lower index ranks first",
        }
