"""Zero-shot VQAv2 (BLIP-2 paper Table 2): official files or a `datasets` source, official accuracy.

Changelog:
- v1: LAVIS question preprocessing, per-family prompts, 5 beams, 1..10 new tokens,
  length penalty -1, answers stripped; official VQA accuracy (current or LAVIS's copy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blip2_bench.data.locate import COCO_IMAGE_ROOTS, find_in_root
from blip2_bench.data.vqav2 import VqaSample, load_hf, load_official
from blip2_bench.errors import BadInputError
from blip2_bench.metrics.vqa_accuracy import SCORERS, VqaRecord, vqa_scores
from blip2_bench.task_api.short_answer import PROMPTS, ShortAnswerVqaTask
from blip2_bench.types import TaskScores

# BLIP-2 paper §4 / LAVIS configs: FlanT5 models are prompted for a short answer.
SPLITS = {"val": "val2014", "test-dev": "test-dev2015"}


@dataclass(frozen=True)
class Vqav2Options:
    split: str = "val"
    """val (scored) or test-dev (no annotations: exports the EvalAI file only)."""
    source: str = "official"
    """official: the visualqa.org JSON files; hf: a `datasets` source (hf_dataset)."""
    questions_file: str | None = None
    annotations_file: str | None = None
    image_dir: str | None = None
    hf_dataset: str = "lmms-lab/VQAv2"
    """Hub id, or a local parquet/arrow file or folder, in the lmms-lab/VQAv2 schema."""
    hf_split: str = "validation"
    scorer: str = "official"
    """official: current GT-Vision-Lab/VQA code; lavis: the pre-2021 copy BLIP-2's numbers used."""
    prompt: str | None = None
    """Override the family's prompt template ("{}" is the question)."""
    num_beams: int = 5
    max_new_tokens: int = 10
    min_new_tokens: int = 1
    length_penalty: float = -1.0

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise BadInputError(f"task.vqav2.split must be one of {list(SPLITS)}, got {self.split!r}")
        if self.source not in ("official", "hf"):
            raise BadInputError(f"task.vqav2.source must be 'official' or 'hf', got {self.source!r}")
        if self.scorer not in SCORERS:
            raise BadInputError(f"task.vqav2.scorer must be one of {list(SCORERS)}, got {self.scorer!r}")
        if self.prompt is not None and self.prompt.count("{}") != 1:
            raise BadInputError(f"task.vqav2.prompt must contain '{{}}' once, got {self.prompt!r}")


class Vqav2Task(ShortAnswerVqaTask):
    name = "vqav2"
    score_command = "blip2_bench.scoring.vqav2:main"
    version = 1
    Options = Vqav2Options

    options: Vqav2Options

    # --- data -------------------------------------------------------------------
    def _subtype(self) -> str:
        return SPLITS[self.options.split]

    def _find(self, explicit: str | None, file_name: str) -> Path:
        # The official download keeps the JSONs in their own folder; LAVIS under coco/annotations.
        folders = ("", "annotations", "coco/annotations", "vqav2")
        return find_in_root(self.data_root, [file_name], folders, explicit=explicit)  # missing: data_files() says so

    def _image_dir(self) -> Path:
        folder = "test2015" if self.options.split == "test-dev" else "val2014"
        return find_in_root(self.data_root, [folder], COCO_IMAGE_ROOTS, explicit=self.options.image_dir, folder=True)

    def data_files(self) -> dict[str, Path]:
        if self.options.source == "hf":
            local = Path(self.options.hf_dataset)
            return {"hf_dataset": local} if local.exists() else {}
        sub = self._subtype()
        files = {"questions": self._find(self.options.questions_file, f"v2_OpenEnded_mscoco_{sub}_questions.json")}
        if self.options.split == "val":
            files["annotations"] = self._find(self.options.annotations_file, f"v2_mscoco_{sub}_annotations.json")
        for role, path in files.items():
            if not path.is_file():
                raise BadInputError(f"VQAv2 {role} file not found: {path} (set task.vqav2.{role}_file or data_root)")
        image_dir = self._image_dir()
        if not image_dir.is_dir():
            raise BadInputError(f"VQAv2 image folder not found: {image_dir} (set task.vqav2.image_dir or data_root)")
        return files

    def load(self, limit: int | None) -> Sequence[VqaSample]:
        if self.options.source == "hf":
            return load_hf(self.options.hf_dataset, self.options.hf_split, limit)
        files = self.files()
        return load_official(files["questions"], files.get("annotations"), self._image_dir(), limit)

    # --- scoring -------------------------------------------------------------------
    def score(self, samples: Sequence[VqaSample], predictions: Mapping[str, str]) -> TaskScores:
        answered = [s for s in samples if s.sample_id in predictions]
        if not answered or answered[0].answers is None:
            records = [_record(s, None) for s in answered]
            return TaskScores({}, records, {}, "none (split has no annotations)")
        vqa_records = [
            VqaRecord(s.question_id, predictions[s.sample_id], s.answers or (), s.answer_type, s.question_type)
            for s in answered
        ]
        scores = vqa_scores(vqa_records, scorer=self.options.scorer)
        per_question = scores["per_question"]
        records = [_record(s, per_question[s.sample_id]) for s in answered]
        table = {"accuracy": scores["accuracy"], **{f"acc[{k}]": v for k, v in scores["per_answer_type"].items()}}
        return TaskScores(scores, records, table, f"vqa_accuracy:{self.options.scorer}")

    def exports(self, samples: Sequence[VqaSample], predictions: Mapping[str, str]) -> dict[str, Any]:
        # The official results format; for test-dev this is the EvalAI submission file.
        results = [
            {"question_id": s.question_id, "answer": predictions[s.sample_id]}
            for s in samples
            if s.sample_id in predictions
        ]
        return {f"vqav2_{self._subtype()}_results.json": results}

    def describe(self) -> dict[str, Any]:
        o = self.options
        return {
            "prompts": PROMPTS if o.prompt is None else {"all": o.prompt},
            "generation": self.settings().__dict__,
            "question_preprocessing": "lavis blip_question (max 50 words)",
            "scorer": o.scorer,
        }


def _record(sample: VqaSample, score: float | None) -> dict[str, Any]:
    return {
        "id": sample.sample_id,
        "question_id": sample.question_id,
        "image_id": sample.image_id,
        "question": sample.question,
        "answer_type": sample.answer_type,
        "question_type": sample.question_type,
        "score": score,
    }


TASK = Vqav2Task
