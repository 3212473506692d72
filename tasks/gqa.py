"""Zero-shot GQA (BLIP-2 paper Table 2): the official balanced test-dev questions, exact match.

LAVIS ``lavis/projects/blip2/eval/gqa_zeroshot_flant5xl_eval.yaml`` (``task: gqa``, dataset
``balanced_testdev``): ``blip_question`` preprocessing, prompt ``Question: {} Short answer:``,
5 beams, 1..10 new tokens, images at 224; accuracy = exact match of the prediction after the VQA
evaluation's punctuation and digit/article normalization against the raw gold answer
(``metrics/gqa_accuracy.py``). OPT models get the paper's ``Question: {} Answer:``.

Changelog:
- v1: the protocol above; scorers lavis (default), lavis-2023-12 and official; accuracy per
  structural, semantic and detailed type, per length and per reasoning steps.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blip2_bench.data.gqa import SEMANTIC_TYPES, SPLIT_FILES, STRUCTURAL_TYPES, GqaSample, load_gqa
from blip2_bench.data.locate import find_in_root
from blip2_bench.errors import BadInputError
from blip2_bench.metrics.gqa_accuracy import SCORERS, GqaRecord, compared, gqa_scores
from blip2_bench.task_api.short_answer import PROMPTS, ShortAnswerVqaTask
from blip2_bench.types import TaskScores

log = logging.getLogger(__name__)

# BLIP-2 paper §4 (OPT) and the LAVIS GQA config (Flan-T5).


@dataclass(frozen=True)
class GqaOptions:
    split: str = "test-dev"
    """test-dev: testdev_balanced_questions.json (12,578 questions, the paper's); val: val_balanced."""
    questions_file: str | None = None
    image_dir: str | None = None
    scorer: str = "lavis"
    """lavis: prediction normalized (LAVIS 2023-02, BLIP-2's); lavis-2023-12: both; official: raw exact match."""
    prompt: str | None = None
    """Override the family's prompt template ("{}" is the question)."""
    num_beams: int = 5
    max_new_tokens: int = 10
    min_new_tokens: int = 1
    length_penalty: float = -1.0

    def __post_init__(self) -> None:
        if self.split not in SPLIT_FILES:
            raise BadInputError(f"task.gqa.split must be one of {list(SPLIT_FILES)}, got {self.split!r}")
        if self.scorer not in SCORERS:
            raise BadInputError(f"task.gqa.scorer must be one of {list(SCORERS)}, got {self.scorer!r}")
        if self.prompt is not None and self.prompt.count("{}") != 1:
            raise BadInputError(f"task.gqa.prompt must contain '{{}}' once, got {self.prompt!r}")


class GqaTask(ShortAnswerVqaTask):
    name = "gqa"
    score_command = "blip2_bench.scoring.gqa:main"
    version = 1
    Options = GqaOptions

    options: GqaOptions

    # --- data -------------------------------------------------------------------
    def _questions_file(self) -> Path:
        # The official files wherever questions1.2.zip was unpacked; LAVIS's gqa/annotations/ holds
        # its own converted list (refused by the loader with a message that says so), so it comes last.
        folders = ("", "questions1.2", "gqa", "gqa/questions1.2", "gqa/annotations")
        name = SPLIT_FILES[self.options.split]
        return find_in_root(self.data_root, [name], folders, explicit=self.options.questions_file)

    def _image_dir(self) -> Path:
        return find_in_root(self.data_root, ["images"], ("", "gqa"), explicit=self.options.image_dir, folder=True)

    def data_files(self) -> dict[str, Path]:
        path = self._questions_file()
        if not path.is_file():
            raise BadInputError(f"GQA questions file not found: {path} (set task.gqa.questions_file or data_root)")
        image_dir = self._image_dir()
        if not image_dir.is_dir():
            raise BadInputError(f"GQA image folder not found: {image_dir} (set task.gqa.image_dir or data_root)")
        return {"questions": path}

    def load(self, limit: int | None) -> Sequence[GqaSample]:
        data = load_gqa(self.files()["questions"], self._image_dir(), limit)
        if data.unbalanced:
            n = len(data.unbalanced)
            log.info("gqa: %d unbalanced questions skipped (the official accuracy counts balanced ones)", n)
        return data.samples

    # --- scoring -------------------------------------------------------------------
    def score(self, samples: Sequence[GqaSample], predictions: Mapping[str, str]) -> TaskScores:
        answered = [s for s in samples if s.sample_id in predictions]
        if not answered:
            return TaskScores({}, [], {}, "none (no predictions)")
        scorer = self.options.scorer
        records = [_record(s, predictions[s.sample_id]) for s in answered]
        scores = gqa_scores(records, scorer=scorer)
        rows = [
            {
                "id": s.sample_id,
                "question_id": s.question_id,
                "image_id": s.image_id,
                "question": s.question,
                "answer": s.answer,
                "structural": s.structural,
                "semantic": s.semantic,
                "detailed": s.detailed,
                "scored_answer": compared(predictions[s.sample_id], s.answer, scorer)[0],
                "score": scores["per_question"][s.sample_id],
            }
            for s in answered
        ]
        return TaskScores(scores, rows, headline_table(scores), f"gqa_accuracy:{scorer}")

    def exports(self, samples: Sequence[GqaSample], predictions: Mapping[str, str]) -> dict[str, Any]:
        # The official GQA predictions format; questionId strings exactly as in the questions file.
        results = [
            {"questionId": s.question_id, "prediction": predictions[s.sample_id]}
            for s in samples
            if s.sample_id in predictions
        ]
        return {f"gqa_{self.options.split.replace('-', '')}_predictions.json": results}

    def describe(self) -> dict[str, Any]:
        o = self.options
        return {
            "prompts": PROMPTS if o.prompt is None else {"all": o.prompt},
            "generation": self.settings().__dict__,
            "question_preprocessing": "lavis blip_question (max 50 words)",
            "scorer": o.scorer,
        }


def _record(s: GqaSample, prediction: str) -> GqaRecord:
    return GqaRecord(s.question_id, prediction, s.answer, s.structural, s.semantic, s.detailed, s.words, s.steps)


def headline_table(scores: Mapping[str, Any]) -> dict[str, float]:
    """accuracy, binary/open, then per structural and per semantic type (in the official order)."""
    table = {"accuracy": scores["accuracy"]}
    for kind in ("binary", "open"):
        if scores["counts"][kind]:  # the official eval prints 0 for a kind with no questions
            table[f"acc[{kind}]"] = scores[kind]
    for key, known in (("per_structural_type", STRUCTURAL_TYPES), ("per_semantic_type", SEMANTIC_TYPES)):
        values = scores[key]
        for t in [*known, *sorted(set(values) - set(known))]:
            if t in values:
                table[f"acc[{t}]"] = values[t]
    return table


TASK = GqaTask
