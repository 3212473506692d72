"""What a driver may use: run settings, the run directory and a lazily built backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import BackendConfig, RunConfig
from ..rundir import RunDir
from ..types import ModelTraits


@dataclass
class RunContext:
    run: RunConfig
    backend_config: BackendConfig
    run_dir: RunDir
    get_backend: Callable[[], Any]
    """Builds the backend on first use, so a fully journaled run never loads a model."""

    @property
    def traits(self) -> ModelTraits:
        return ModelTraits(self.backend_config.family, self.backend_config.image_size)

    @property
    def batch_size(self) -> int:
        return self.backend_config.batch_size
