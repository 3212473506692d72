"""What the short-answer VQA tasks (VQAv2, OK-VQA, GQA) share: BLIP-2's prompts per LLM family,
LAVIS's question preprocessing, the generation settings from the task's options, and parsing.

A task's Options need `prompt`, `num_beams`, `max_new_tokens`, `min_new_tokens`, `length_penalty`;
its samples need `sample_id`, `image` and `question`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..text import blip_question
from ..types import GenerationRequest, GenerationSettings, ModelTraits
from . import GenerationTask

PROMPTS = {"opt": "Question: {} Answer:", "t5": "Question: {} Short answer:"}
"""The BLIP-2 paper's zero-shot VQA prompts (LAVIS: OPT's ``prompt``, Flan-T5's configs)."""


class ShortAnswerVqaTask(GenerationTask):
    def prompt_template(self, traits: ModelTraits) -> str:
        return self.options.prompt or PROMPTS[traits.family]  # type: ignore[attr-defined]

    def settings(self) -> GenerationSettings:
        o = self.options  # type: ignore[attr-defined]
        return GenerationSettings(o.num_beams, o.max_new_tokens, o.min_new_tokens, o.length_penalty)

    def requests(self, samples: Sequence[Any], traits: ModelTraits) -> list[GenerationRequest]:
        template, settings = self.prompt_template(traits), self.settings()
        return [
            GenerationRequest(s.sample_id, s.image, template.format(blip_question(s.question)), settings)
            for s in samples
        ]

    def parse(self, raw_output: str) -> str:
        # LAVIS strips the decoded text; OPT output is already cut at the first newline by the
        # backend, this guards backends that do not stop there. (OK-VQA's lemmatizer is scoring.)
        return raw_output.split("\n", 1)[0].strip()
