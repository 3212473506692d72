"""What an executor may use: run settings, the run directory, the rank set-up and a lazy backend."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..backend_api import KEYED_WHEN_SET, Backend
from ..config import RunConfig
from ..distributed import DistEnv
from ..provenance import package_versions, short_hash
from ..types import ModelTraits
from .rundir import RunDir

log = logging.getLogger(__name__)


@dataclass
class RunContext:
    run: RunConfig
    backend_options: Any
    backend_class: type[Backend]
    run_dir: RunDir
    dist: DistEnv = field(default_factory=DistEnv)
    backend_identity: dict[str, Any] = field(default_factory=dict)
    """Rank 0's `backend_class.identity(options)`, so every rank keys its journal entries alike."""
    _backend: Backend | None = None

    def backend(self) -> Backend:
        """Built on first use, so a fully journaled run never loads a model."""
        if self._backend is None:
            log.info("loading backend %s (%s)", self.backend_options.name, self.backend_options.impl)
            self._backend = self.backend_class(self.backend_options)  # type: ignore[call-arg]
        return self._backend

    @property
    def backend_loaded(self) -> bool:
        return self._backend is not None

    @property
    def traits(self) -> ModelTraits:
        return self.backend_class.traits(self.backend_options)

    @property
    def batch_size(self) -> int:
        return int(self.backend_options.batch_size)

    def stage_key(self, task: str, stage: str) -> str:
        """Key of everything but the batch that decides a stage's outputs: the backend (options and
        identity, not the pairing's display name), torch/transformers versions, task and stage.
        Scoring-only task settings are not in it: changing them re-scores the same outputs."""
        opts = self.backend_options
        added = {f.name: f.default for f in fields(opts) if f.metadata.get(KEYED_WHEN_SET)}  # see added_option
        options = {k: v for k, v in asdict(opts).items() if k != "name" and not (k in added and v == added[k])}
        versions = package_versions()
        return short_hash(
            {
                "backend": {**options, "identity": self.backend_identity},
                "torch": versions.get("torch"),
                "transformers": versions.get("transformers"),
                "task": task,
                "stage": stage,
            }
        )
