"""The runner: checks every task before any model loads, builds one backend, drives each task."""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .backends import BACKENDS
from .backends.base import PROTOCOLS
from .config import BackendConfig, RunConfig, validate_section
from .distributed import DistEnv, broadcast
from .drivers import RunContext, TaskOutcome, driver_for
from .errors import BadInputError
from .plugins import load_task_class
from .provenance import data_file_hashes, sample_set_id, short_hash
from .results import write_results
from .rundir import RunDir

log = logging.getLogger(__name__)


def check_protocol(task: Any, backend_class: type) -> None:
    methods = PROTOCOLS.get(task.needs)
    if methods is None:
        raise BadInputError(f"task {task.name} needs unknown backend protocol {task.needs!r}")
    missing = [m for m in methods if not hasattr(backend_class, m)]
    if missing:
        raise BadInputError(
            f"task {task.name} needs a '{task.needs}' backend; {backend_class.__name__} lacks {', '.join(missing)} "
            "(pick a backend config made for this task)"
        )


class Runner:
    def __init__(
        self,
        run: RunConfig,
        backend_config: BackendConfig,
        task_options: dict[str, Any],
        run_dir: RunDir,
        resolved_config: dict[str, Any],
        dist: DistEnv | None = None,
    ) -> None:
        self.backend_config = backend_config
        self.task_options = task_options
        self.run_dir = run_dir
        self.resolved_config = resolved_config
        self._backend: Any = None
        self._backend_class = BACKENDS.get(backend_config.impl)
        identity = getattr(self._backend_class, "identity", None)
        dist = dist or DistEnv()
        self.ctx = RunContext(
            run,
            backend_config,
            run_dir,
            self._get_backend,
            # Rank 0's view, so every rank keys its journal entries alike.
            backend_identity=broadcast(identity(backend_config) if identity else {}),
            dist=dist,
            fresh=run.fresh,
        )

    def _tasks(self) -> list[Any]:
        tasks = []
        for name, options in self.task_options.items():
            task_class = load_task_class(name, self.ctx.run.task_dirs)
            options = validate_section(task_class.Options, options, f"task.{name}")
            tasks.append(task_class(options, Path(self.ctx.run.data_root)))
        return tasks

    def finish_keys(self) -> dict[str, str]:
        """Per task, a key of everything its final results depend on: what decides the outputs
        (weights, versions, settings) and the data files' contents (annotations included)."""
        return {
            task.name: short_hash([self.ctx.output_key(task), data_file_hashes(task.data_files())])
            for task in self._tasks()
        }

    def execute(self) -> dict[str, Any] | None:
        """Run every task; rank 0 writes and returns the results, other ranks return None."""
        # Everything that can fail on bad input fails here, before a model loads.
        prepared = []
        for task in self._tasks():
            check_protocol(task, self._backend_class)
            files = task.data_files()
            driver = driver_for(task.needs)
            prepared.append((task, files, driver, driver.prepare(task, self.ctx)))
        preflight = getattr(self._backend_class, "preflight", None)
        if preflight is not None:
            preflight(self.backend_config)
        keys = self.finish_keys()
        outcomes = [(task, files, driver.run(p, self.ctx)) for task, files, driver, p in prepared]
        if not self.ctx.dist.is_main:
            return None
        results = {
            task.name: {**task_result(task, files, outcome), "finish_key": keys[task.name]}
            for task, files, outcome in outcomes
        }
        return write_results(self.run_dir, self.resolved_config, self._backend_provenance(), results)

    def _get_backend(self) -> Any:
        if self._backend is None:
            log.info("loading backend %s (%s)", self.backend_config.name, self.backend_config.model)
            self._backend = self._backend_class(self.backend_config)
        return self._backend

    def _backend_provenance(self) -> dict[str, Any]:
        if self._backend is None:  # every output came from the journal: record what keyed it
            return {
                "id": self.backend_config.name,
                **asdict(self.backend_config),
                "loaded": False,
                "identity": self.ctx.backend_identity,
            }
        return self._backend.provenance()


def task_result(task: Any, files: dict[str, Path], outcome: TaskOutcome) -> dict[str, Any]:
    return {
        "version": task.version,
        "scores": outcome.scores.scores,
        "table": outcome.scores.table,
        "metric_impl": outcome.scores.metric_impl,
        "n_samples": len(outcome.sample_ids),
        "n_predicted": outcome.n_predicted,
        "skipped_images": outcome.skipped,
        "sample_set": sample_set_id(outcome.sample_ids),
        "data_files": data_file_hashes(files),
        "settings": task.describe(),
        "timing": {"seconds": round(outcome.seconds, 3), "computed": outcome.computed},
        **outcome.extra,
    }
