"""Backends run batches they are given; they never see a task, a dataset or an output path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import BackendConfig
from ..registry import Registry
from .base import GenerationBackend


def _hf_blip2() -> Callable[[BackendConfig], GenerationBackend]:
    from .hf_blip2 import HfBlip2Backend  # torch/transformers load only when a backend is built

    return HfBlip2Backend


def _hf_blip2_retrieval() -> Callable[[BackendConfig], Any]:
    from .hf_blip2_retrieval import HfBlip2RetrievalBackend

    return HfBlip2RetrievalBackend


BACKENDS: Registry[Callable[[BackendConfig], Any]] = Registry("backend implementation")
BACKENDS.register("hf_blip2", _hf_blip2)
BACKENDS.register("hf_blip2_retrieval", _hf_blip2_retrieval)
