"""The batch plan: which requests form each batch, in what order, and which rank runs which.

The plan depends only on the requests and the batch size, so a resumed or sharded run sees
the same batches as a single uninterrupted process (padding, and so generated text, depends
on batch composition).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..distributed import DistEnv
from ..provenance import short_hash
from ..types import GenerationRequest


def plan_batches(requests: Sequence[GenerationRequest], batch_size: int) -> list[list[int]]:
    """Indices of requests per batch: grouped by image (first-appearance order), then cut.

    Grouping puts an image's questions in the same batch so it is encoded once.
    """
    by_image: dict[str, list[int]] = {}
    for i, request in enumerate(requests):
        by_image.setdefault(request.image.key, []).append(i)
    order = [i for indices in by_image.values() for i in indices]
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def chunks(n: int, size: int) -> list[range]:
    """Consecutive index ranges of at most `size` covering range(n)."""
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def my_share(n_batches: int, dist: DistEnv) -> list[int]:
    """This rank's batches: every world-th of the one plan, so batches equal a single-process run's."""
    return [k for k in range(n_batches) if k % dist.world_size == dist.rank]


def generation_batch_key(requests: Sequence[GenerationRequest], image_hashes: dict[str, str]) -> str:
    """Identity of one planned generation batch: members, prompts, image contents and settings, in order."""
    return short_hash(
        [(r.sample_id, r.prompt, r.image.key, image_hashes.get(r.image.key), repr(r.settings)) for r in requests]
    )
