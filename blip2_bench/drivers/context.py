"""What a driver may use: run settings, the run directory, the rank set-up and a lazy backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..config import BackendConfig, RunConfig
from ..distributed import DistEnv
from ..provenance import package_versions, short_hash
from ..rundir import RunDir
from ..types import ModelTraits


@dataclass
class RunContext:
    run: RunConfig
    backend_config: BackendConfig
    run_dir: RunDir
    get_backend: Callable[[], Any]
    """Builds the backend on first use, so a fully journaled run never loads a model."""
    backend_identity: dict[str, Any] = field(default_factory=dict)
    """Everything about the backend that can change outputs (weights, dtype, device type, ...)."""
    dist: DistEnv = field(default_factory=DistEnv)
    fresh: bool = False
    """Ignore (and clear) journaled outputs instead of resuming from them."""

    @property
    def traits(self) -> ModelTraits:
        return ModelTraits(self.backend_config.family, self.backend_config.image_size)

    @property
    def batch_size(self) -> int:
        return self.backend_config.batch_size

    def output_key(self, task: Any) -> str:
        """Key of everything but the batch that decides a task's outputs; journal entries carry it."""
        versions = package_versions()
        return short_hash(
            {
                "backend": {**asdict(self.backend_config), **self.backend_identity},
                "torch": versions.get("torch"),
                "transformers": versions.get("transformers"),
                "task": task.name,
                "task_version": task.version,
                "settings": task.describe(),
            }
        )
