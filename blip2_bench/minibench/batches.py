"""Training examples in the harness's exact prompt formats, and their collation into token tensors."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerFast

from ..text import blip_caption, blip_question
from .language import clean_captions, questions, training_caption
from .scenes import Scene

# The harness's protocol (tasks/vqav2.py PROMPTS; blip2_bench/captioning.py CaptionProtocolOptions.prompt);
# tests/unit/test_minibench_training.py checks they still agree.
VQA_PROMPTS = {"opt": "Question: {} Answer:", "t5": "Question: {} Short answer:"}
CAPTION_PROMPT = "a photo of"
IGNORE = -100


@dataclass(frozen=True)
class Example:
    image: int
    """Index of the image (row of the batch's pixel tensor)."""
    prompt: str
    target: str


def generator_examples(
    scenes: Sequence[Scene], family: str, rng: random.Random, questions_per_image: int = 2
) -> list[Example]:
    """Per image: one caption ("a photo of" + reference) and `questions_per_image` VQA questions.

    Questions go through LAVIS's blip_question exactly as tasks/vqav2.py sends them.
    """
    out: list[Example] = []
    for i, scene in enumerate(scenes):
        out.append(Example(i, CAPTION_PROMPT, training_caption(scene, rng)))
        for q in questions(scene, rng, questions_per_image):
            out.append(Example(i, VQA_PROMPTS[family].format(blip_question(q.text)), q.answer))
    return out


def retrieval_texts(scenes: Sequence[Scene], rng: random.Random, n_refs: int = 5) -> list[str]:
    """One reference per image, preprocessed as the retrieval task preprocesses test captions."""
    return [blip_caption(rng.choice(clean_captions(scene, n_refs))) for scene in scenes]


def _pad(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)


def collate_opt(
    examples: Sequence[Example], tok: PreTrainedTokenizerFast, n_query: int, image_token_id: int
) -> dict[str, torch.Tensor]:
    """[<image> x Q][</s> prompt][target "\\n"], right-padded; loss on target and newline only.

    The harness left-pads ([queries][pad][</s> prompt]); OPT's positions come from the attention
    mask's cumulative sum, so each real token sits at the same position either way.
    """
    newline = tok("\n", add_special_tokens=False).input_ids
    ids, labels = [], []
    for ex in examples:
        prompt = tok(ex.prompt).input_ids
        target = tok(ex.target, add_special_tokens=False).input_ids + newline
        ids.append([image_token_id] * n_query + prompt + target)
        labels.append([IGNORE] * (n_query + len(prompt)) + target)
    input_ids = _pad(ids, tok.pad_token_id)
    return {
        "input_ids": input_ids,
        "attention_mask": _pad([[1] * len(r) for r in ids], 0),
        "labels": _pad(labels, IGNORE),
        "image_index": torch.tensor([ex.image for ex in examples]),
    }


def collate_t5(
    examples: Sequence[Example], tok: PreTrainedTokenizerFast, n_query: int, image_token_id: int
) -> dict[str, torch.Tensor]:
    """Encoder [<image> x Q][prompt </s>] right-padded (as the harness); labels target </s>."""
    ids, labels = [], []
    for ex in examples:
        ids.append([image_token_id] * n_query + tok(ex.prompt).input_ids)
        labels.append(tok(ex.target).input_ids)  # T5's tokenizer appends </s>
    return {
        "input_ids": _pad(ids, tok.pad_token_id),
        "attention_mask": _pad([[1] * len(r) for r in ids], 0),
        "labels": _pad(labels, IGNORE),
        "image_index": torch.tensor([ex.image for ex in examples]),
    }


COLLATE = {"opt": collate_opt, "t5": collate_t5}
