"""Backends run batches they are given; they never see a task, a dataset or an output path."""

from __future__ import annotations

from collections.abc import Callable

from ..config import BackendConfig
from ..registry import Registry
from .base import GenerationBackend


def _hf_blip2() -> Callable[[BackendConfig], GenerationBackend]:
    from .hf_blip2 import HfBlip2Backend  # torch/transformers load only when a backend is built

    return HfBlip2Backend


BACKENDS: Registry[Callable[[BackendConfig], GenerationBackend]] = Registry("backend implementation")
BACKENDS.register("hf_blip2", _hf_blip2)


def build_backend(config: BackendConfig) -> GenerationBackend:
    return BACKENDS.get(config.impl)(config)
