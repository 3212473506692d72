"""The batch plan: which requests form each batch, in what order, and which rank runs which.

The plan depends only on the requests and the batch size, so a resumed or sharded run sees
the same batches as a single uninterrupted process (padding, and so generated text, depends
on batch composition).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..config import check_batch_order
from ..distributed import DistEnv
from ..provenance import short_hash
from ..types import GenerationRequest


def plan_batches(requests: Sequence[GenerationRequest], batch_size: int, order: str = "image") -> list[list[int]]:
    """Indices of requests per batch: whole images packed into batches, in first-appearance
    order ("image") or by their longest prompt in words, then characters ("length", stable: ties
    keep file order), so that a batch holds prompts of similar length and pads less.

    An image's questions never straddle a batch boundary, so every image is decoded and encoded
    once: a batch takes the next image's questions only if they all fit, else it closes (batches
    may be a little short). An image with more questions than `batch_size` gets batches of its
    own, so a backend can encode it once, alone, and reuse the features across those batches with
    bit-identical results whether or not the run was resumed in between.
    """
    check_batch_order(order)
    by_image: dict[str, list[int]] = {}
    for i, request in enumerate(requests):
        by_image.setdefault(request.image.key, []).append(i)
    groups = list(by_image.values())
    if order == "length":  # words, then characters, stand in for tokens: no tokenizer is loaded yet
        groups.sort(key=lambda indices: max(_length(requests[i].prompt) for i in indices))
    batches: list[list[int]] = []
    current: list[int] = []
    for indices in groups:
        if len(current) + len(indices) > batch_size and current:
            batches.append(current)
            current = []
        if len(indices) > batch_size:
            batches += [indices[start : start + batch_size] for start in range(0, len(indices), batch_size)]
            continue
        current += indices
    if current:
        batches.append(current)
    return batches


def _length(prompt: str) -> tuple[int, int]:
    return len(prompt.split()), len(prompt)


def padding_fraction(batches: Sequence[Sequence[int]], lengths: Sequence[int]) -> float:
    """Share of a padded batch's positions that are padding, over all batches: each batch is
    padded to its longest member (`lengths[i]`: request i's prompt length, in tokens say)."""
    padded = sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)
    return 1 - sum(lengths[i] for batch in batches for i in batch) / padded if padded else 0.0


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
