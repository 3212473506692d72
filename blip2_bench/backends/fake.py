"""A deterministic stand-in generation backend: no weights, outputs computed from the request.

For the harness's own tests (plan, journal, sharding, resume in milliseconds) and for a dry
run of a config without a model. The text depends on the prompt, the image pixels and `seed`,
so an edited image, prompt or seed changes it, as it would with a real model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..backend_api import BackendOptions, GenerationBackend
from ..types import GenerationRequest, ModelTraits

WORDS = ("yes", "no", "2", "red", "a dog on a couch", "a photo of a bus")


@dataclass(frozen=True)
class FakeOptions(BackendOptions):
    impl: str = "fake"
    family: str = "opt"
    image_size: int = 32
    seed: int = 0
    """Another seed is another "model": its outputs differ and its journal entries are not reused."""


class FakeBackend(GenerationBackend):
    Options = FakeOptions

    def __init__(self, options: FakeOptions) -> None:
        self.options = options
        self.calls: list[int] = []  # batch sizes seen, for tests

    @staticmethod
    def identity(options: FakeOptions) -> dict[str, Any]:
        return {"fake": 1, "seed": options.seed, "family": options.family, "batch_size": options.batch_size}

    @staticmethod
    def preflight(options: FakeOptions) -> None:
        pass

    @staticmethod
    def traits(options: FakeOptions) -> ModelTraits:
        return ModelTraits(options.family, options.image_size)

    def generate(self, requests: Sequence[GenerationRequest], images: Mapping[str, Image.Image]) -> list[str]:
        self.calls.append(len(requests))
        out = []
        for r in requests:
            digest = hashlib.sha256(f"{self.options.seed}|{r.prompt}|".encode() + images[r.image.key].tobytes())
            out.append(WORDS[digest.digest()[0] % len(WORDS)])
        return out

    def provenance(self) -> dict[str, Any]:
        return {"id": self.options.name, "impl": "fake", **self.identity(self.options)}


BACKEND = FakeBackend
