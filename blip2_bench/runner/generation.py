"""Generation tasks: requests -> one journaled stage of batches -> parsed predictions -> scores."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import BadInputError, BenchError
from ..images import load_rgb
from ..provenance import image_content_hashes, short_hash
from ..task_api import GenerationTask, Sample
from ..types import GenerationRequest
from .context import RunContext
from .outcome import TaskOutcome
from .plan import generation_batch_key, plan_batches
from .prefetch import ImagePrefetcher
from .stage import run_journaled_stage

log = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 2000


@dataclass
class PreparedGeneration:
    task: GenerationTask
    samples: Sequence[Sample]
    requests: list[GenerationRequest]
    batches: list[list[int]]
    batch_keys: list[str]

    @property
    def plan_digest(self) -> str:
        """What the outputs were asked for: every batch's members, prompts, settings and image contents."""
        return short_hash(self.batch_keys)


def check_images_exist(task: str, requests: Sequence[GenerationRequest]) -> None:
    # Cheap, before the model loads: a missing file should not surface hours into a run.
    seen: set[str] = set()
    for r in requests:
        if r.image.path is not None and r.image.path not in seen:
            seen.add(r.image.path)
            if not Path(r.image.path).is_file():
                raise BadInputError(f"task {task}: image not found: {r.image.path} (sample {r.sample_id})")


def generate_splitting_on_oom(
    backend: Any, requests: list[GenerationRequest], images: dict[str, Any]
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


class GenerationExecutor:
    def prepare(self, task: GenerationTask, ctx: RunContext) -> PreparedGeneration:
        samples = task.load(ctx.run.limit)
        if not samples:
            raise BadInputError(f"task {task.name}: the selected split holds no samples")
        requests = task.requests(samples, ctx.traits)
        for r in requests:
            # BLIP-2's inputs are short (LAVIS cuts questions at 50 words); a huge prompt is a broken
            # file, and would exhaust memory in the tokenizer or model instead of failing clearly.
            if len(r.prompt) > MAX_PROMPT_CHARS:
                raise BadInputError(
                    f"task {task.name}: sample {r.sample_id}: prompt of {len(r.prompt)} characters is longer than "
                    f"{MAX_PROMPT_CHARS} (a corrupt question?)"
                )
        if ctx.run.on_bad_image == "fail":
            check_images_exist(task.name, requests)
        hashes = image_content_hashes(r.image for r in requests)
        batches = plan_batches(requests, ctx.batch_size, ctx.run.batch_order)
        keys = [generation_batch_key([requests[i] for i in batch], hashes) for batch in batches]  # type: ignore[arg-type]
        return PreparedGeneration(task, samples, requests, batches, keys)

    def run(self, p: PreparedGeneration, ctx: RunContext) -> TaskOutcome | None:
        """Run this rank's share of the batch plan; rank 0 then scores every rank's outputs."""

        def is_done(k: int, entry: dict[str, Any]) -> bool:
            # Every member answered; a batch with a skipped image is retried (the read error
            # may have been transient, or the file fixed since).
            got = {o.get("id"): o for o in entry["outputs"] if isinstance(o, dict)}
            members = [p.requests[i].sample_id for i in p.batches[k]]
            return all(isinstance(got.get(sid, {}).get("raw"), str) for sid in members)

        batches = [[p.requests[i] for i in batch] for batch in p.batches]
        prefetcher: list[ImagePrefetcher] = []

        def start_prefetch(todo: list[int]) -> None:
            # The backend loads here, before the threads start, when there is work to do: its
            # prepare_image then runs beside decoding (a fully journaled run still loads nothing).
            prepare = getattr(ctx.backend(), "prepare_image", None) if todo and ctx.run.image_workers else None
            prefetcher.append(ImagePrefetcher(batches, todo, ctx.run.image_workers, prepare=prepare))

        try:
            stage = run_journaled_stage(
                ctx,
                p.task.name,
                ctx.stage_key(p.task.name, "generate"),
                p.batch_keys,
                lambda k: self._run_batch(batches[k], ctx, prefetcher[0].images(k) if prefetcher else {}),
                is_done,
                p.task.name,
                on_todo=start_prefetch,
            )
        finally:
            for pool in prefetcher:
                pool.close()
        if not ctx.dist.is_main:
            return None
        outputs: dict[str, dict[str, Any]] = {}
        for key in p.batch_keys:
            for o in stage.entries.get(key, {}).get("outputs", []):
                if isinstance(o, dict) and ("raw" in o or "skipped" in o):
                    outputs[str(o.get("id"))] = o
        missing = [s.sample_id for s in p.samples if s.sample_id not in outputs]
        if missing:  # never score a silent subset
            raise BenchError(f"{p.task.name}: {len(missing)} samples have no output after the run (e.g. {missing[0]})")
        return self._score(p, outputs, ctx, stage.computed)

    def _run_batch(
        self, requests: list[GenerationRequest], ctx: RunContext, decoding: dict[str, Future[Any]] | None = None
    ) -> list[dict[str, Any]]:
        images: dict[str, Any] = {}  # PIL images, or what the backend's prepare_image made of them
        skipped: list[dict[str, Any]] = []
        runnable: list[GenerationRequest] = []
        decoding = decoding or {}
        for r in requests:
            if r.image.key not in images:
                try:
                    pending = decoding.get(r.image.key)
                    images[r.image.key] = pending.result() if pending is not None else load_rgb(r.image, r.sample_id)
                except BadInputError as exc:
                    if ctx.run.on_bad_image == "fail":
                        raise
                    log.warning("skipping sample %s: %s", r.sample_id, exc)
                    skipped.append({"id": r.sample_id, "skipped": str(exc)})
                    continue
            runnable.append(r)
        outputs, split = generate_splitting_on_oom(ctx.backend(), runnable, images) if runnable else ([], False)
        done = [{"id": r.sample_id, "raw": out} for r, out in zip(runnable, outputs, strict=True)]
        if split:  # padding differs from the planned batch, so the text may too: say so
            for entry in done:
                entry["oom_split"] = True
        return skipped + done

    def _score(
        self, p: PreparedGeneration, journal: dict[str, dict[str, Any]], ctx: RunContext, computed: int
    ) -> TaskOutcome:
        task = p.task
        raw = {sid: e["raw"] for sid, e in journal.items() if "raw" in e}
        empty = sum(not text.strip() for text in raw.values())
        if empty:  # scored as wrong answers: say how many, so a broken model is not a silent low score
            log.warning("%s: %d of %d outputs are empty (scored as they are)", task.name, empty, len(raw))
        predictions = {sid: task.parse(text) for sid, text in raw.items()}
        scored = task.score(p.samples, predictions)
        prompts = {r.sample_id: r.prompt for r in p.requests}
        split = {sid for sid, e in journal.items() if e.get("oom_split")}
        # The run's own fields go beside the task's, into a new record: the task's stay its own.
        records = [
            {
                **rec,
                "prompt": prompts[rec["id"]],
                "raw_output": raw[rec["id"]],
                "prediction": predictions[rec["id"]],
                "oom_split": rec["id"] in split,
            }
            for rec in scored.records
        ]
        ctx.run_dir.write_samples(task.name, records)
        exports = task.exports(p.samples, predictions)
        ctx.run_dir.write_exports(exports)
        skipped = sorted((sid for sid, e in journal.items() if "skipped" in e), key=str)
        return TaskOutcome(
            scored,
            [s.sample_id for s in p.samples],
            len(predictions),
            computed,
            skipped,
            extra={
                "oom_split_samples": len(split),
                "empty_outputs": empty,
                "files": [f"exports/{name}" for name in exports],
            },
        )
