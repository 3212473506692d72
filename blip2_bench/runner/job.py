"""The runner: builds each task once, checks everything before any model loads, claims the run
directory, re-reports a finished run whose inputs are unchanged, else runs and writes results."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backend_api import Backend
from ..config import RunConfig, validate_section
from ..distributed import DistEnv, broadcast
from ..errors import BadInputError, BenchError
from ..files import atomic_write_json
from ..plugins import load_task_class
from ..provenance import data_file_hashes, sample_set_id, short_hash
from ..results import write_results
from ..task_api import BaseTask
from .context import RunContext
from .generation import GenerationExecutor
from .outcome import TaskOutcome
from .retrieval import RetrievalExecutor
from .rundir import RunDir

log = logging.getLogger(__name__)

# One executor per backend protocol; a task declares the protocol it needs.
EXECUTORS: dict[str, Any] = {"generate": GenerationExecutor, "retrieval": RetrievalExecutor}


@dataclass
class PlannedTask:
    task: BaseTask
    executor: Any
    prepared: Any
    data_files: dict[str, dict[str, Any]]
    key_parts: dict[str, str]
    """What the final results depend on, part by part (so a recompute can say which changed)."""

    @property
    def finish_key(self) -> str:
        return short_hash(self.key_parts)


def check_protocol(task: BaseTask, backend_class: type[Backend]) -> None:
    if task.needs not in EXECUTORS:
        raise BadInputError(f"task {task.name} needs unknown backend protocol {task.needs!r}")
    if backend_class.protocol != task.needs:
        raise BadInputError(
            f"task {task.name} needs a '{task.needs}' backend; backend implementation {backend_class.__name__} "
            f"serves '{backend_class.protocol}' (pick a backend config made for this task)"
        )


class Runner:
    def __init__(
        self,
        run: RunConfig,
        backend_options: Any,
        backend_class: type[Backend],
        task_sections: dict[str, Any],
        run_dir: RunDir,
        resolved_config: dict[str, Any],
        dist: DistEnv | None = None,
    ) -> None:
        self.run_config = run
        self.task_sections = task_sections
        self.resolved_config = resolved_config
        dist = dist or DistEnv()
        identity = broadcast(backend_class.identity(backend_options))
        self.ctx = RunContext(run, backend_options, backend_class, run_dir, dist, identity)

    def run(self, identity_config: dict[str, Any]) -> dict[str, Any] | None:
        """Plan every task (all bad input fails here), claim the run directory, then re-report
        or run. Rank 0 returns the results; other ranks None."""
        planned = self.plan()
        ctx = self.ctx
        error, finished = None, None
        if ctx.dist.is_main:
            try:  # claimed only now, after validation: a failed run leaves no claim behind
                ctx.run_dir.acquire()
                ctx.run_dir.lock_config(identity_config)
                if self.run_config.fresh:
                    ctx.run_dir.clear_final()
                finished = finished_results(ctx.run_dir, planned)
            except BadInputError as exc:
                error = str(exc)
        error = broadcast(error)  # every rank stops, not only rank 0
        if error:
            raise BadInputError(error)
        if broadcast(finished is not None):
            return finished
        return self.execute(planned)

    def plan(self) -> list[PlannedTask]:
        """Build each task once, find its files once, load and check its data, key it."""
        ctx = self.ctx
        tasks = []
        for name, section in self.task_sections.items():
            task_class = load_task_class(name, self.run_config.task_dirs)
            options = validate_section(task_class.Options, section, f"task.{name}")
            task = task_class(options, Path(self.run_config.data_root))
            check_protocol(task, ctx.backend_class)
            tasks.append(task)
        planned = []
        for task in tasks:
            files = data_file_hashes(task.files())
            executor = EXECUTORS[task.needs]()
            prepared = executor.prepare(task, ctx)
            parts = {
                "outputs": ctx.stage_key(task.name, "task"),
                "settings": short_hash({"version": task.version, "settings": task.describe()}),
                "data_files": short_hash({role: f["hash"] for role, f in files.items()}),
                "samples_and_images": prepared.plan_digest,
            }
            planned.append(PlannedTask(task, executor, prepared, files, parts))
        ctx.backend_class.preflight(ctx.backend_options)  # after the data: its errors are named first
        return planned

    def execute(self, planned: list[PlannedTask]) -> dict[str, Any] | None:
        results = {}
        for p in planned:
            started = time.perf_counter()
            outcome = p.executor.run(p.prepared, self.ctx)
            if outcome is not None:
                results[p.task.name] = task_result(p, outcome, time.perf_counter() - started, self.run_config.limit)
        if not self.ctx.dist.is_main:
            return None
        provenance = self._backend_provenance()
        try:
            return write_results(self.ctx.run_dir, self.resolved_config, provenance, results)
        except BenchError:  # e.g. a full disk: no tables or results.json of a run that has no COMPLETE
            with contextlib.suppress(OSError):
                self.ctx.run_dir.clear_final()
            raise

    def _backend_provenance(self) -> dict[str, Any]:
        """The loaded backend's record; when every output came from the journal, the record saved
        by the attempt that computed them (same identity), so provenance describes the outputs."""
        ctx = self.ctx
        saved = ctx.run_dir.path / "journal" / f"backend-{short_hash(ctx.backend_identity)}.json"
        if ctx.backend_loaded:
            record = ctx.backend().provenance()
            atomic_write_json(saved, record)
            return record
        try:
            return {**json.loads(saved.read_text(encoding="utf-8")), "loaded_this_attempt": False}
        except (OSError, ValueError):
            return {
                "id": ctx.backend_options.name,
                "options": {k: v for k, v in vars(ctx.backend_options).items()},
                "loaded_this_attempt": False,
                "identity": ctx.backend_identity,
            }


def task_result(p: PlannedTask, outcome: TaskOutcome, seconds: float, limit: int | None) -> dict[str, Any]:
    task = p.task
    n = len(outcome.sample_ids)
    files = [f"samples/{task.name}.jsonl", *outcome.extra.pop("files", [])]
    return {
        "version": task.version,
        "scores": outcome.scores.scores,
        "table": outcome.scores.table,
        "metric_impl": outcome.scores.metric_impl,
        "n_samples": n,
        "n_predicted": outcome.n_predicted,
        "skipped_images": outcome.skipped,
        "coverage": coverage(outcome, limit),
        "sample_set": sample_set_id(outcome.sample_ids),
        "data_files": p.data_files,
        "settings": task.describe(),
        "timing": {"seconds": round(seconds, 3), "computed": outcome.computed},
        "files": files,
        "finish_key": p.finish_key,
        "finish_key_parts": p.key_parts,
        **outcome.extra,
    }


def coverage(outcome: TaskOutcome, limit: int | None) -> str:
    """ "all", or what the score covers: "118 of 120 samples (2 skipped)", "first 10 of the split (limit=10)"."""
    notes = []
    if limit is not None:
        notes.append(f"first {limit} of the split (limit={limit})")
    if outcome.skipped:
        n = len(outcome.sample_ids)
        notes.append(f"{n - len(outcome.skipped)} of {n} samples scored ({len(outcome.skipped)} skipped)")
    return "; ".join(notes) or "all"


def finished_results(run_dir: RunDir, planned: list[PlannedTask]) -> dict[str, Any] | None:
    """A finished run's results, unless what decides them has changed since (new weights under
    the same path, other versions or settings, edited annotations or images), or its files are
    damaged; then the final files are cleared and the run recomputes (from its journal)."""
    if not run_dir.complete:
        return None
    results_file = run_dir.path / "results.json"
    try:
        results = json.loads(results_file.read_text(encoding="utf-8"))
        held = {name: info.get("finish_key_parts") for name, info in results["tasks"].items()}
        files = [f for info in results["tasks"].values() for f in info.get("files", [])]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        log.warning("run %s: results.json is missing or unreadable; recomputing from the journal", run_dir.path)
        run_dir.clear_final()
        return None
    wanted = {p.task.name: p.key_parts for p in planned}
    reason = _change_reason(held, wanted)
    if reason is None:
        missing = [f for f in files if not (run_dir.path / f).is_file()]
        reason = f"its file {missing[0]} is missing" if missing else None
    if reason:
        log.warning("run %s finished before, but %s; recomputing (journaled outputs are reused)", run_dir.path, reason)
        run_dir.clear_final()
        return None
    log.info("run already complete: %s", run_dir.path)
    return results


_PART_NAMES = {
    "outputs": "the backend (weights, dtype, device) or torch/transformers versions",
    "settings": "the task's settings or version",
    "data_files": "the data files",
    "samples_and_images": "the samples, prompts or image contents",
}


def _change_reason(held: dict[str, Any], wanted: dict[str, dict[str, str]]) -> str | None:
    if set(held) != set(wanted):
        return f"its tasks were {sorted(held)}, now {sorted(wanted)}"
    for name, parts in wanted.items():
        old = held[name] if isinstance(held[name], dict) else {}
        changed = [_PART_NAMES[k] for k in parts if old.get(k) != parts[k]]
        if changed:
            return f"{name}: {' and '.join(changed)} changed"
    return None
