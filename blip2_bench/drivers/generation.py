"""Generation tasks: the batch plan, per-batch journaling, resume, and scoring."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from tqdm import tqdm

from ..errors import BadInputError
from ..images import load_rgb
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


class GenerationDriver:
    def prepare(self, task: GenerationTask, ctx: RunContext) -> PreparedGeneration:
        samples = task.load(ctx.run.limit)
        if not samples:
            raise BadInputError(f"task {task.name}: the selected split holds no samples")
        requests = task.requests(samples, ctx.traits)
        if ctx.run.on_bad_image == "fail":
            check_images_exist(task.name, requests)
        return PreparedGeneration(task, samples, requests)

    def run(self, p: PreparedGeneration, ctx: RunContext) -> TaskOutcome:
        name = p.task.name
        journal = ctx.run_dir.read_journal(name)
        batches = plan_batches(p.requests, ctx.batch_size)
        todo = [b for b in batches if not all(p.requests[i].sample_id in journal for i in b)]
        if journal:
            log.info("%s: resuming, %d of %d batches already done", name, len(batches) - len(todo), len(batches))
        started = time.perf_counter()
        with tqdm(total=len(batches), initial=len(batches) - len(todo), desc=name, unit="batch") as bar:
            for batch in todo:
                entries = self._run_batch([p.requests[i] for i in batch], ctx)
                ctx.run_dir.append_journal(name, entries)
                journal.update({e["id"]: e for e in entries})
                bar.update(1)
        seconds = time.perf_counter() - started
        return self._score(p, journal, ctx, seconds, computed=sum(len(b) for b in todo))

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
        outputs = ctx.get_backend().generate(runnable, images) if runnable else []
        return skipped + [{"id": r.sample_id, "raw": out} for r, out in zip(runnable, outputs, strict=True)]

    def _score(
        self, p: PreparedGeneration, journal: dict[str, dict[str, Any]], ctx: RunContext, seconds: float, computed: int
    ) -> TaskOutcome:
        task = p.task
        raw = {sid: e["raw"] for sid, e in journal.items() if "raw" in e}
        predictions = {sid: task.parse(text) for sid, text in raw.items()}
        scored = task.score(p.samples, predictions)
        prompts = {r.sample_id: r.prompt for r in p.requests}
        for rec in scored.records:
            rec.update(prompt=prompts[rec["id"]], raw_output=raw[rec["id"]], prediction=predictions[rec["id"]])
        ctx.run_dir.write_samples(task.name, scored.records)
        ctx.run_dir.write_exports(task.exports(p.samples, predictions))
        skipped = sorted((sid for sid, e in journal.items() if "skipped" in e), key=str)
        return TaskOutcome(scored, [s.sample_id for s in p.samples], len(predictions), seconds, computed, skipped)
