"""A deterministic stand-in retrieval backend: embeddings hashed from pixels and text, no weights.

Scores are near chance but deterministic, and change when an image's pixels or a caption change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from ..backend_api import BackendOptions, ImageEmbeddings, RetrievalBackend
from ..types import ModelTraits

DIM = 16


def _vector(seed: str) -> torch.Tensor:
    generator = torch.Generator().manual_seed(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "little"))
    return torch.randn(DIM, generator=generator)


@dataclass(frozen=True)
class FakeRetrievalOptions(BackendOptions):
    impl: str = "fake_retrieval"
    image_size: int = 32
    seed: int = 0


class FakeRetrievalBackend(RetrievalBackend):
    Options = FakeRetrievalOptions

    def __init__(self, options: FakeRetrievalOptions) -> None:
        self.options = options

    @staticmethod
    def identity(options: FakeRetrievalOptions) -> dict[str, Any]:
        return {"fake_retrieval": 1, "seed": options.seed, "batch_size": options.batch_size}

    @staticmethod
    def preflight(options: FakeRetrievalOptions) -> None:
        pass

    @staticmethod
    def traits(options: FakeRetrievalOptions) -> ModelTraits:
        return ModelTraits("itm", options.image_size)

    def embed_images(self, images: Sequence[Image.Image]) -> ImageEmbeddings:
        rows = [_vector(f"{self.options.seed}|{hashlib.sha256(im.tobytes()).hexdigest()}") for im in images]
        itc = F.normalize(torch.stack(rows), dim=-1)[:, None, :]  # one "query" per image
        return ImageEmbeddings(itc=itc, state=itc[:, 0, :].clone())

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        return F.normalize(torch.stack([_vector(f"{self.options.seed}|{t}") for t in texts]), dim=-1)

    def match(self, image_states: torch.Tensor, texts: Sequence[str]) -> torch.Tensor:
        return (image_states * self.embed_texts(texts)).sum(dim=-1)

    def provenance(self) -> dict[str, Any]:
        return {"id": self.options.name, "impl": "fake_retrieval", **self.identity(self.options)}


BACKEND = FakeRetrievalBackend
