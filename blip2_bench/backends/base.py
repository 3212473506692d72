"""The small protocols backends implement; a task names the one it needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from PIL import Image

from ..types import GenerationRequest, ModelTraits


@runtime_checkable
class GenerationBackend(Protocol):
    """Generates text for a batch of (image, prompt) requests."""

    traits: ModelTraits

    def generate(self, requests: Sequence[GenerationRequest], images: Mapping[str, Image.Image]) -> list[str]:
        """One raw text per request, in order; `images` maps each request's image key to RGB pixels.

        Each distinct image in the batch is encoded once, however many requests use it.
        """
        ...

    def provenance(self) -> dict[str, Any]:
        """Backend id, weights revision or hash, dtype, device and image-processing backend."""
        ...


# Protocol names a task may declare in `needs`, mapped to the methods a backend must have.
PROTOCOLS: dict[str, tuple[str, ...]] = {
    "generate": ("generate", "provenance"),
    "retrieval": ("image_features", "text_features", "itm_scores", "provenance"),
}
