"""Generation tasks: the batch plan, per-batch journaling, resume, and scoring."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from tqdm import tqdm

from ..distributed import all_gather, barrier, collectively
from ..errors import BadInputError, BenchError
from ..images import load_rgb
from ..provenance import short_hash
from ..task_api import GenerationTask, Sample
from ..types import GenerationRequest
from . import TaskOutcome
from .context import RunContext

log = logging.getLogger(__name__)


@dataclass
class PreparedGeneration:
    task: GenerationTask
    samples: Sequence[Sample]
    requests: list[GenerationRequest]


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


def check_images_exist(task: str, requests: Sequence[GenerationRequest]) -> None:
    # Cheap, before the model loads: a missing file should not surface hours into a run.
    seen: set[str] = set()
    for r in requests:
        if r.image.path is not None and r.image.path not in seen:
            seen.add(r.image.path)
            if not Path(r.image.path).is_file():
                raise BadInputError(f"task {task}: image not found: {r.image.path} (sample {r.sample_id})")


def batch_key(requests: Sequence[GenerationRequest]) -> str:
    """Identity of one planned batch: its members, prompts, images and settings, in order."""
    return short_hash([(r.sample_id, r.prompt, r.image.key, repr(r.settings)) for r in requests])


def generate_splitting_on_oom(
    backend: Any, requests: list[GenerationRequest], images: dict[str, Image.Image]
) -> tuple[list[str], bool]:
    """Generate; on a CUDA out-of-memory error halve the batch and retry (down to one request).

    Returns the outputs and whether a split happened (split batches pad differently, so their
    texts may differ from an unsplit run).
    """
    try:
        return backend.generate(requests, images), False
    except torch.cuda.OutOfMemoryError:
        if len(requests) == 1:
            raise
        log.warning("CUDA out of memory on a batch of %d; splitting it in two", len(requests))
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        half = len(requests) // 2
        first, _ = generate_splitting_on_oom(backend, requests[:half], images)
        second, _ = generate_splitting_on_oom(backend, requests[half:], images)
        return first + second, True


class GenerationDriver:
    def prepare(self, task: GenerationTask, ctx: RunContext) -> PreparedGeneration:
        samples = task.load(ctx.run.limit)
        if not samples:
            raise BadInputError(f"task {task.name}: the selected split holds no samples")
        requests = task.requests(samples, ctx.traits)
        if ctx.run.on_bad_image == "fail":
            check_images_exist(task.name, requests)
        return PreparedGeneration(task, samples, requests)

    def run(self, p: PreparedGeneration, ctx: RunContext) -> TaskOutcome | None:
        """Run this rank's share of the batch plan; rank 0 then scores every rank's outputs.

        The journal holds one line per batch, so a torn write loses exactly that batch and a
        resumed run never holds two outputs for one sample.
        """
        name, rank, world = p.task.name, ctx.dist.rank, ctx.dist.world_size
        batches = plan_batches(p.requests, ctx.batch_size)
        keys = [batch_key([p.requests[i] for i in batch]) for batch in batches]
        output_key = ctx.output_key(p.task)

        def reusable(entry: dict[str, Any]) -> bool:
            # Keyed by everything that can change an output: backend, versions, task settings, batch.
            return entry.get("ctx") == output_key

        if ctx.dist.is_main:
            if ctx.fresh:
                ctx.run_dir.clear_journal(name)
            ctx.run_dir.read_journal(name, repair=True)  # cut torn lines before any rank appends
        barrier()
        done = ctx.run_dir.read_journal(name, reusable, repair=False)
        # A batch with a skipped image is retried on resume: a read error may have been
        # transient, or the file fixed since.
        finished = {k for k, e in done.items() if not any("skipped" in o for o in e["outputs"])}
        # Each rank takes every world-th batch of the one plan: batches are identical to a
        # single-process run, so generated texts are too.
        mine = [k for k in range(len(batches)) if k % world == rank]
        todo = [k for k in mine if keys[k] not in finished]
        if len(todo) < len(mine):
            log.info("%s: resuming, %d of %d batches already done", name, len(mine) - len(todo), len(mine))
        started = time.perf_counter()
        desc = name if world == 1 else f"{name} [rank {rank}/{world}]"

        def run_my_batches() -> None:
            with tqdm(total=len(mine), initial=len(mine) - len(todo), desc=desc, unit="batch") as bar:
                for k in todo:
                    outputs = self._run_batch([p.requests[i] for i in batches[k]], ctx)
                    ctx.run_dir.append_journal(name, [{"id": keys[k], "ctx": output_key, "outputs": outputs}], rank)
                    bar.update(1)

        collectively(run_my_batches)
        seconds = time.perf_counter() - started
        computed = sum(all_gather(sum(len(batches[k]) for k in todo)))
        barrier()
        if not ctx.dist.is_main:
            return None
        done = ctx.run_dir.read_journal(name, reusable, repair=False)
        outputs = {o["id"]: o for k in keys if k in done for o in done[k]["outputs"]}
        missing = [s.sample_id for s in p.samples if s.sample_id not in outputs]
        if missing:  # e.g. a rank that keyed its outputs differently: never score a silent subset
            raise BenchError(f"{name}: {len(missing)} samples have no output after the run (e.g. {missing[0]})")
        return self._score(p, outputs, ctx, seconds, computed)

    def _run_batch(self, requests: list[GenerationRequest], ctx: RunContext) -> list[dict[str, Any]]:
        images: dict[str, Image.Image] = {}
        skipped: list[dict[str, Any]] = []
        runnable: list[GenerationRequest] = []
        for r in requests:
            if r.image.key not in images:
                try:
                    images[r.image.key] = load_rgb(r.image, r.sample_id)
                except BadInputError as exc:
                    if ctx.run.on_bad_image == "fail":
                        raise
                    log.warning("skipping sample %s: %s", r.sample_id, exc)
                    skipped.append({"id": r.sample_id, "skipped": str(exc)})
                    continue
            runnable.append(r)
        outputs, split = generate_splitting_on_oom(ctx.get_backend(), runnable, images) if runnable else ([], False)
        done = [{"id": r.sample_id, "raw": out} for r, out in zip(runnable, outputs, strict=True)]
        if split:  # padding differs from the planned batch, so the text may too: say so
            for entry in done:
                entry["oom_split"] = True
        return skipped + done

    def _score(
        self, p: PreparedGeneration, journal: dict[str, dict[str, Any]], ctx: RunContext, seconds: float, computed: int
    ) -> TaskOutcome:
        task = p.task
        raw = {sid: e["raw"] for sid, e in journal.items() if "raw" in e}
        predictions = {sid: task.parse(text) for sid, text in raw.items()}
        scored = task.score(p.samples, predictions)
        prompts = {r.sample_id: r.prompt for r in p.requests}
        split = {sid for sid, e in journal.items() if e.get("oom_split")}
        for rec in scored.records:
            rec.update(
                prompt=prompts[rec["id"]],
                raw_output=raw[rec["id"]],
                prediction=predictions[rec["id"]],
                oom_split=rec["id"] in split,
            )
        ctx.run_dir.write_samples(task.name, scored.records)
        ctx.run_dir.write_exports(task.exports(p.samples, predictions))
        skipped = sorted((sid for sid, e in journal.items() if "skipped" in e), key=str)
        return TaskOutcome(
            scored,
            [s.sample_id for s in p.samples],
            len(predictions),
            seconds,
            computed,
            skipped,
            extra={"oom_split_samples": len(split)},
        )
