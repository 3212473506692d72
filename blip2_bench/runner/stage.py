"""The one skeleton every stage runs on: this rank's share of a plan, a progress bar, failures
stopping every rank, and (for journaled stages) resume, reuse and one journal line per batch."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from ..distributed import all_gather, barrier, collectively
from .context import RunContext
from .journal import Journal
from .plan import my_share

log = logging.getLogger(__name__)


def run_my_batches(
    ctx: RunContext, desc: str, batches: Sequence[int], fn: Callable[[int], None], done: int = 0
) -> None:
    """Call `fn` on each of this rank's batches under one progress bar; if any rank fails, all raise."""
    label = desc if ctx.dist.world_size == 1 else f"{desc} [rank {ctx.dist.rank}/{ctx.dist.world_size}]"

    def loop() -> None:
        with tqdm(total=len(batches) + done, initial=done, desc=label, unit="batch") as bar:
            for k in batches:
                fn(k)
                bar.update(1)

    collectively(loop)


@dataclass
class StageResult:
    entries: dict[str, dict[str, Any]]
    """Batch key -> journal entry, every planned batch (rank 0 only; empty elsewhere)."""
    computed: int
    """Outputs computed by this run, all ranks together (the rest came from journals)."""
    reused_from_other_runs: int
    """Batches imported from another run directory's journal."""


def run_journaled_stage(
    ctx: RunContext,
    stage: str,
    key: str,
    batch_keys: Sequence[str],
    compute: Callable[[int], list[Any]],
    is_done: Callable[[int, dict[str, Any]], bool],
    desc: str,
    owners: Sequence[int] | None = None,
    on_todo: Callable[[list[int]], None] | None = None,
) -> StageResult:
    """Run the batches of a plan that no journal holds yet; every rank calls this.

    `batch_keys[k]` identifies batch k's content; `compute(k)` returns its outputs; `is_done(k,
    entry)` says whether a journaled entry fully answers batch k (else it is recomputed).
    `owners[k]` is the rank that runs batch k (default: every world-th batch, `my_share`).
    `on_todo(todo)` learns which batches this rank will compute, in order (e.g. to prefetch).
    """
    journal = Journal(ctx.run_dir.path, stage)
    imported = 0
    if ctx.dist.is_main:
        if ctx.run.fresh:
            journal.clear()
        have = journal.read(key, repair=True).entries  # cut torn lines before any rank appends
        if ctx.run.reuse_outputs and not ctx.run.fresh:
            complete = {k for i, k in enumerate(batch_keys) if k in have and is_done(i, have[k])}
            imported = journal.import_from_others(key, set(batch_keys), complete)
            if imported:
                log.info("%s: reused %d batches computed by another run with the same outputs key", stage, imported)
    barrier()
    done = journal.read(key).entries
    if owners is None:
        mine = my_share(len(batch_keys), ctx.dist)
    else:
        mine = [k for k, owner in enumerate(owners) if owner == ctx.dist.rank]
    todo = [k for k in mine if not (batch_keys[k] in done and is_done(k, done[batch_keys[k]]))]
    if len(todo) < len(mine):
        log.info("%s: %d of %d batches already done", stage, len(mine) - len(todo), len(mine))
    computed = [0]
    if on_todo is not None:
        on_todo(todo)

    def run_batch(k: int) -> None:
        outputs = compute(k)
        journal.append([{"id": batch_keys[k], "ctx": key, "outputs": outputs}], ctx.dist.rank)
        computed[0] += len(outputs)

    run_my_batches(ctx, desc, todo, run_batch, done=len(mine) - len(todo))
    total = sum(all_gather(computed[0]))
    barrier()
    if not ctx.dist.is_main:
        return StageResult({}, total, imported)
    if ctx.run.reuse_outputs:
        journal.register(key)
    entries = journal.read(key).entries
    return StageResult({k: entries[k] for k in batch_keys if k in entries}, total, imported)
