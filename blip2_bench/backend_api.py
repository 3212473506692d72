"""The contract a backend plugin implements: options schema, identity, preflight and batch methods.

A backend owns weights, dtype, device, tokenization and padding, and runs the batch it is
given; it never sees a task, a dataset or an output path. Every method the runner calls is
declared here as abstract, so a backend that lacks one cannot be instantiated, and the
runner never has to guess (e.g. a missing `identity` would silently weaken the journal key).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from PIL import Image

from .errors import BadInputError
from .types import GenerationRequest, ModelTraits

KEYED_WHEN_SET = "blip2_bench.keyed_when_set"


def added_option(default: Any) -> Any:
    """An options field added after runs were journaled: at its default it stays out of the
    journal's stage key, so a run journaled before it existed (computed as the default) resumes."""
    return field(default=default, metadata={KEYED_WHEN_SET: True})


@dataclass(frozen=True)
class BackendOptions:
    """The keys every backend config has; a backend's own `Options` subclasses this."""

    name: str
    """Pairing id; the key results are filed under."""
    impl: str
    """Registered backend implementation (the plugin file's name)."""
    batch_size: int = 16
    """Requests per batch: the runner plans batches of this size (it can change outputs)."""

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise BadInputError(f"backend.batch_size must be >= 1, got {self.batch_size}")


class Backend(ABC):
    """What the runner needs from every backend, before and after it is built."""

    Options: ClassVar[type[BackendOptions]]
    """Dataclass schema of the `backend` config section; validated before any model loads."""
    protocol: ClassVar[str]
    """The protocol it serves ("generate" or "retrieval"); a task's `needs` must match it."""

    @staticmethod
    @abstractmethod
    def identity(options: Any) -> dict[str, Any]:
        """Everything that can change outputs (weights hashes or hub revision, dtype, device type,
        image size, ...), known without loading the model; every journal and finish key holds it."""

    @staticmethod
    @abstractmethod
    def preflight(options: Any) -> None:
        """Cheap checks before any task work (weights folder exists, architecture, image size,
        device); raise BadInputError with one line."""

    @staticmethod
    @abstractmethod
    def traits(options: Any) -> ModelTraits:
        """What a task may know about the model (family, image size) to build its requests."""

    @abstractmethod
    def provenance(self) -> dict[str, Any]:
        """Backend id, weights revision or hash, dtypes, device and image-processing record."""


class GenerationBackend(Backend):
    """Generates text for batches of (image, prompt) requests."""

    protocol: ClassVar[str] = "generate"

    @abstractmethod
    def generate(self, requests: Sequence[GenerationRequest], images: Mapping[str, Any]) -> list[str]:
        """One raw text per request, in order; `images` maps each request's image key to RGB pixels
        (a PIL image) or to what `prepare_image` made of them.

        Each distinct image in the batch is encoded once, however many requests use it.
        """

    def prepare_image(self, image: Image.Image) -> Any:
        """Per-image work (resize, normalize) the runner does in its decode threads, ahead of the batch.

        `generate` then gets the result in place of the image, so it must accept both and give the
        same outputs for either. Default: nothing to do ahead.
        """
        return image


@dataclass(frozen=True)
class ImageEmbeddings:
    """A batch of images as the retrieval backend returns them."""

    itc: torch.Tensor
    """Normalised ITC embeddings, float32 on CPU: (n, queries, dim)."""
    state: torch.Tensor
    """Opaque per-image rows the backend needs again in `match` (e.g. vision encoder outputs);
    the runner keeps them in host memory and hands rows back, never looks inside."""


class RetrievalBackend(Backend):
    """Image and text embeddings for ITC ranking and an ITM head for re-ranking pairs."""

    protocol: ClassVar[str] = "retrieval"

    @abstractmethod
    def embed_images(self, images: Sequence[Image.Image]) -> ImageEmbeddings:
        """ITC embeddings and match state of a batch of RGB images."""

    @abstractmethod
    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Normalised ITC text embeddings (n, dim), float32 on CPU; texts are already preprocessed."""

    @abstractmethod
    def match(self, image_states: torch.Tensor, texts: Sequence[str]) -> torch.Tensor:
        """ITM score of each aligned (image, text) pair (row i of `image_states` with texts[i]), float32 on CPU."""


PROTOCOLS: dict[str, type[Backend]] = {"generate": GenerationBackend, "retrieval": RetrievalBackend}
