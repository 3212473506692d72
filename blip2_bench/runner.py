"""The runner: owns the batch plan (order, boundaries, resume) and drives tasks and one backend."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from tqdm import tqdm

from .backends import BACKENDS
from .backends.base import PROTOCOLS, GenerationBackend
from .config import BackendConfig, RunConfig, validate_section
from .errors import BadInputError
from .images import load_rgb
from .plugins import load_task_class
from .provenance import data_file_hashes, sample_set_id
from .results import write_results
from .rundir import RunDir
from .task_api import GenerationTask, Sample
from .types import GenerationRequest, ModelTraits

log = logging.getLogger(__name__)


@dataclass
class PreparedTask:
    """A task checked and loaded before any model: its samples and requests."""

    task: GenerationTask
    samples: Sequence[Sample]
    requests: list[GenerationRequest]
    data_files: dict[str, Path]


def plan_batches(requests: Sequence[GenerationRequest], batch_size: int) -> list[list[int]]:
    """Indices of requests per batch: grouped by image (first-appearance order), then cut.

    Grouping puts an image's questions in the same batch so it is encoded once. The plan
    depends only on the requests and the batch size, so a resumed or sharded run sees the
    same batches (padding, and so generated text, depends on batch composition).
    """
    by_image: dict[str, list[int]] = {}
    for i, request in enumerate(requests):
        by_image.setdefault(request.image.key, []).append(i)
    order = [i for indices in by_image.values() for i in indices]
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def prepare_task(name: str, options: Any, run: RunConfig, traits: ModelTraits) -> PreparedTask:
    task_class = load_task_class(name, run.task_dirs)
    task = task_class(validate_section(task_class.Options, options, f"task.{name}"), Path(run.data_root))
    files = task.data_files()
    samples = task.load(run.limit)
    if not samples:
        raise BadInputError(f"task {name}: the selected split holds no samples")
    requests = task.requests(samples, traits)
    if run.on_bad_image == "fail":
        _check_images_exist(name, requests)
    return PreparedTask(task, samples, requests, files)


def _check_images_exist(task: str, requests: Sequence[GenerationRequest]) -> None:
    # Cheap, before the model loads: a missing file should not surface hours into a run.
    seen: set[str] = set()
    for r in requests:
        if r.image.path is not None and r.image.path not in seen:
            seen.add(r.image.path)
            if not Path(r.image.path).is_file():
                raise BadInputError(f"task {task}: image not found: {r.image.path} (sample {r.sample_id})")


def check_protocol(task: GenerationTask, backend_class: type) -> None:
    methods = PROTOCOLS.get(task.needs)
    if methods is None:
        raise BadInputError(f"task {task.name} needs unknown backend protocol {task.needs!r}")
    missing = [m for m in methods if not hasattr(backend_class, m)]
    if missing:
        raise BadInputError(
            f"task {task.name} needs a '{task.needs}' backend; {backend_class.__name__} lacks {missing}"
        )


class Runner:
    def __init__(
        self,
        run: RunConfig,
        backend_config: BackendConfig,
        task_options: dict[str, Any],
        run_dir: RunDir,
        resolved_config: dict[str, Any],
    ) -> None:
        self.run = run
        self.backend_config = backend_config
        self.task_options = task_options
        self.run_dir = run_dir
        self.resolved_config = resolved_config
        self._backend: GenerationBackend | None = None

    def execute(self) -> dict[str, Any]:
        traits = ModelTraits(self.backend_config.family, self.backend_config.image_size)
        backend_class = BACKENDS.get(self.backend_config.impl)
        # Everything that can fail on bad input fails here, before a model loads.
        prepared = {name: prepare_task(name, opts, self.run, traits) for name, opts in self.task_options.items()}
        for p in prepared.values():
            check_protocol(p.task, backend_class)  # type: ignore[arg-type]
        preflight = getattr(backend_class, "preflight", None)
        if preflight is not None:
            preflight(self.backend_config)
        task_results = {
            name: self._run_task(p, lambda: self._get_backend(backend_class)) for name, p in prepared.items()
        }
        return write_results(self.run_dir, self.resolved_config, self._backend_provenance(), task_results)

    def _get_backend(self, backend_class: Callable[[BackendConfig], GenerationBackend]) -> GenerationBackend:
        if self._backend is None:
            log.info("loading backend %s (%s)", self.backend_config.name, self.backend_config.model)
            self._backend = backend_class(self.backend_config)
        return self._backend

    def _backend_provenance(self) -> dict[str, Any]:
        if self._backend is None:  # every prediction came from the journal
            return {"id": self.backend_config.name, "model": self.backend_config.model, "loaded": False}
        return self._backend.provenance()

    def _run_task(self, p: PreparedTask, get_backend: Callable[[], GenerationBackend]) -> dict[str, Any]:
        name = p.task.name
        journal = self.run_dir.read_journal(name)
        batches = plan_batches(p.requests, self.backend_config.batch_size)
        todo = [b for b in batches if not all(p.requests[i].sample_id in journal for i in b)]
        if journal:
            log.info("%s: resuming, %d of %d batches already done", name, len(batches) - len(todo), len(batches))
        started = time.perf_counter()
        with tqdm(total=len(batches), initial=len(batches) - len(todo), desc=name, unit="batch") as bar:
            for batch in todo:
                entries = self._run_batch([p.requests[i] for i in batch], get_backend)
                self.run_dir.append_journal(name, entries)
                journal.update({e["id"]: e for e in entries})
                bar.update(1)
        seconds = time.perf_counter() - started
        return self._score_task(p, journal, seconds, computed=sum(len(b) for b in todo))

    def _run_batch(
        self, requests: list[GenerationRequest], get_backend: Callable[[], GenerationBackend]
    ) -> list[dict[str, Any]]:
        images: dict[str, Image.Image] = {}
        skipped: list[dict[str, Any]] = []
        runnable: list[GenerationRequest] = []
        for r in requests:
            if r.image.key not in images:
                try:
                    images[r.image.key] = load_rgb(r.image, r.sample_id)
                except BadInputError as exc:
                    if self.run.on_bad_image == "fail":
                        raise
                    log.warning("skipping sample %s: %s", r.sample_id, exc)
                    skipped.append({"id": r.sample_id, "skipped": str(exc)})
                    continue
            runnable.append(r)
        outputs = get_backend().generate(runnable, images) if runnable else []
        return skipped + [{"id": r.sample_id, "raw": out} for r, out in zip(runnable, outputs, strict=True)]

    def _score_task(
        self, p: PreparedTask, journal: dict[str, dict[str, Any]], seconds: float, computed: int
    ) -> dict[str, Any]:
        task = p.task
        raw = {sid: e["raw"] for sid, e in journal.items() if "raw" in e}
        predictions = {sid: task.parse(text) for sid, text in raw.items()}
        scored = task.score(p.samples, predictions)
        prompts = {r.sample_id: r.prompt for r in p.requests}
        records = [
            {**rec, "prompt": prompts[rec["id"]], "raw_output": raw[rec["id"]], "prediction": predictions[rec["id"]]}
            for rec in scored.records
        ]
        skipped = sorted((sid for sid, e in journal.items() if "skipped" in e), key=str)
        self.run_dir.write_samples(task.name, records)
        self.run_dir.write_exports(task.exports(p.samples, predictions))
        return {
            "version": task.version,
            "scores": scored.scores,
            "table": scored.table,
            "metric_impl": scored.metric_impl,
            "n_samples": len(p.samples),
            "n_predicted": len(predictions),
            "skipped_images": skipped,
            "sample_set": sample_set_id(s.sample_id for s in p.samples),
            "data_files": data_file_hashes(p.data_files),
            "settings": task.describe(),
            "timing": {"seconds": round(seconds, 3), "computed_samples": computed},
        }
