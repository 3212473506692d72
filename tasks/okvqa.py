"""Zero-shot OK-VQA (BLIP-2 paper Table 2): the official OK-VQA v1.1 files, LAVIS's protocol.

LAVIS ``lavis/projects/blip2/eval/okvqa_zeroshot_flant5xl_eval.yaml``: ``blip_question``
preprocessing, prompt ``Question: {} Short answer:``, 5 beams, 1..10 new tokens, images at 224;
the model's answers lemmatized with spaCy en_core_web_sm (``apply_lemmatizer: True``), then LAVIS's
(pre-2021) VQA evaluation against the official annotations. OPT models get the paper's
``Question: {} Answer:`` (LAVIS has no OPT OK-VQA config).

Changelog:
- v1: the protocol above; lemmatizer auto|spacy|off (auto: LAVIS's when spaCy and its model load,
  else none, said up front, recorded, and never matched to the paper's numbers).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blip2_bench.data.locate import COCO_IMAGE_ROOTS, find_in_root
from blip2_bench.data.okvqa import ANNOTATIONS_FILE, CATEGORIES, QUESTIONS_FILE, load_okvqa
from blip2_bench.data.vqav2 import VqaSample
from blip2_bench.errors import BadInputError
from blip2_bench.metrics.lemmatize import MODES, NOT_COMPARABLE, Lemmatizer, choose_lemmatizer
from blip2_bench.metrics.okvqa_accuracy import okvqa_scores
from blip2_bench.metrics.vqa_accuracy import SCORERS, VqaRecord
from blip2_bench.task_api.short_answer import PROMPTS, ShortAnswerVqaTask
from blip2_bench.types import TaskScores

log = logging.getLogger(__name__)

# BLIP-2 paper §4 (OPT) and the LAVIS OK-VQA config (Flan-T5).
SPLITS = {"val": "val2014"}
"""OK-VQA's val2014 files: the set the paper (and LAVIS's `test` split) report."""


@dataclass(frozen=True)
class OkvqaOptions:
    split: str = "val"
    """val: OK-VQA's val2014 questions (5,046), what the paper reports as OK-VQA."""
    questions_file: str | None = None
    annotations_file: str | None = None
    image_dir: str | None = None
    scorer: str = "lavis"
    """lavis: the pre-2021 VQA evaluation LAVIS ships (BLIP-2's numbers); official: current VQA HEAD."""
    lemmatizer: str = "auto"
    """auto: LAVIS's spaCy lemmatizer when installed, else none (recorded); spacy: required; off."""
    prompt: str | None = None
    """Override the family's prompt template ("{}" is the question)."""
    num_beams: int = 5
    max_new_tokens: int = 10
    min_new_tokens: int = 1
    length_penalty: float = -1.0

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise BadInputError(f"task.okvqa.split must be one of {list(SPLITS)}, got {self.split!r}")
        if self.scorer not in SCORERS:
            raise BadInputError(f"task.okvqa.scorer must be one of {list(SCORERS)}, got {self.scorer!r}")
        if self.lemmatizer not in MODES:
            raise BadInputError(f"task.okvqa.lemmatizer must be one of {list(MODES)}, got {self.lemmatizer!r}")
        if self.prompt is not None and self.prompt.count("{}") != 1:
            raise BadInputError(f"task.okvqa.prompt must contain '{{}}' once, got {self.prompt!r}")


class OkvqaTask(ShortAnswerVqaTask):
    name = "okvqa"
    score_command = "blip2_bench.scoring.okvqa:main"
    version = 1
    Options = OkvqaOptions

    options: OkvqaOptions

    def __init__(self, options: Any, data_root: Path) -> None:
        super().__init__(options, data_root)
        self._lemmatizer: Lemmatizer | None = None

    # --- data -------------------------------------------------------------------
    def _find(self, explicit: str | None, template: str) -> Path:
        # The OK-VQA download leaves the JSONs wherever it is unzipped; LAVIS keeps them under
        # okvqa/annotations/. okvqa/ first: VQA v1's files have the very same names.
        name = template.format(subtype=SPLITS[self.options.split])
        folders = ("okvqa", "okvqa/annotations", "", "annotations")
        return find_in_root(self.data_root, [name], folders, explicit=explicit)

    def _image_dir(self) -> Path:
        roots = ("okvqa", *COCO_IMAGE_ROOTS)
        return find_in_root(self.data_root, ["val2014"], roots, explicit=self.options.image_dir, folder=True)

    def lemmatizer(self) -> Lemmatizer:
        """Chosen once per task, before any model loads; a missing spaCy is said here, up front."""
        if self._lemmatizer is None:
            self._lemmatizer = choose_lemmatizer(self.options.lemmatizer, "task.okvqa.lemmatizer")
            if self.options.lemmatizer == "auto" and not self._lemmatizer.applied:
                log.warning("okvqa: %s; %s", self._lemmatizer.detail, NOT_COMPARABLE)
        return self._lemmatizer

    def data_files(self) -> dict[str, Path]:
        o = self.options
        files = {
            "questions": self._find(o.questions_file, QUESTIONS_FILE),
            "annotations": self._find(o.annotations_file, ANNOTATIONS_FILE),
        }
        for role, path in files.items():
            if not path.is_file():
                raise BadInputError(f"OK-VQA {role} file not found: {path} (set task.okvqa.{role}_file or data_root)")
        image_dir = self._image_dir()
        if not image_dir.is_dir():
            raise BadInputError(f"OK-VQA image folder not found: {image_dir} (set task.okvqa.image_dir or data_root)")
        self.lemmatizer()
        return files

    def load(self, limit: int | None) -> Sequence[VqaSample]:
        files = self.files()
        return load_okvqa(files["questions"], files["annotations"], self._image_dir(), limit).samples

    # --- scoring -------------------------------------------------------------------
    def score(self, samples: Sequence[VqaSample], predictions: Mapping[str, str]) -> TaskScores:
        answered = [s for s in samples if s.sample_id in predictions]
        if not answered:
            return TaskScores({}, [], {}, "none (no predictions)")
        lemmatizer = self.lemmatizer()
        records = [
            VqaRecord(s.question_id, predictions[s.sample_id], s.answers or (), s.answer_type, s.question_type)
            for s in answered
        ]
        scores, scored = okvqa_scores(records, lemmatizer, scorer=self.options.scorer)
        if not lemmatizer.applied:
            scores["note"] = NOT_COMPARABLE
        per_question = scores["per_question"]
        rows = [
            {
                "id": s.sample_id,
                "question_id": s.question_id,
                "image_id": s.image_id,
                "question": s.question,
                "category": CATEGORIES[s.question_type][0],
                "answer_type": s.answer_type,
                "scored_answer": answer,
                "score": per_question[s.sample_id],
            }
            for s, answer in zip(answered, scored, strict=True)
        ]
        table = {"accuracy": scores["accuracy"], **{f"acc[{k}]": v for k, v in scores["per_category"].items()}}
        return TaskScores(scores, rows, table, f"vqa_accuracy:{self.options.scorer}+lemmatizer:{lemmatizer.name}")

    def exports(self, samples: Sequence[VqaSample], predictions: Mapping[str, str]) -> dict[str, Any]:
        # The VQA results format ([{"question_id", "answer"}]) with the model's answers before
        # lemmatization; `blip2-bench score okvqa` lemmatizes them as a run does.
        results = [
            {"question_id": s.question_id, "answer": predictions[s.sample_id]}
            for s in samples
            if s.sample_id in predictions
        ]
        return {f"okvqa_{SPLITS[self.options.split]}_results.json": results}

    def describe(self) -> dict[str, Any]:
        o = self.options
        lemmatizer = self.lemmatizer()
        return {
            "prompts": PROMPTS if o.prompt is None else {"all": o.prompt},
            "generation": self.settings().__dict__,
            "question_preprocessing": "lavis blip_question (max 50 words)",
            "scorer": o.scorer,
            "lemmatizer": lemmatizer.name,
            "lemmatizer_detail": lemmatizer.detail,
        }


TASK = OkvqaTask
