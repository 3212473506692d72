"""The data that flows between tasks, the runner and backends: small frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ImageSource:
    """Where an image's bytes come from; exactly one of `path` and `data` is set."""

    key: str
    """Stable id of the image (e.g. "coco:391895"); requests sharing a key share one encoding."""
    path: str | None = None
    """File on disk (opened with PIL, whatever its extension claims)."""
    data: bytes | None = field(default=None, repr=False)
    """Encoded image bytes (e.g. from a Hugging Face `datasets` Image column)."""

    def describe(self) -> str:
        return self.path if self.path is not None else f"<bytes of {self.key}>"


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings; always counted in new tokens, never in HF's prompt-inclusive lengths."""

    num_beams: int
    max_new_tokens: int
    min_new_tokens: int
    length_penalty: float = 1.0
    repetition_penalty: float = 1.0


@dataclass(frozen=True)
class ModelTraits:
    """What a task may know about the model: enough to pick a prompt, nothing to run it."""

    family: str
    """Language-model family: "opt" (decoder-only) or "t5" (encoder-decoder)."""
    image_size: int


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: an image, a fully rendered prompt and the decoding settings."""

    sample_id: str
    image: ImageSource
    prompt: str
    settings: GenerationSettings


@dataclass(frozen=True)
class TaskScores:
    """A task's scores: aggregate metrics, per-sample records and rows for people."""

    scores: dict[str, Any]
    """The metric JSON (same keys and scale as the matching `blip2-bench score` command)."""
    records: list[dict[str, Any]]
    """One record per sample, keyed by "id"; written to samples/<task>.jsonl."""
    table: dict[str, float]
    """Headline numbers for table.md / table.csv, metric name -> value."""
    metric_impl: str
    """Which metric implementation and version produced the scores."""
