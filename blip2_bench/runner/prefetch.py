"""Decode (and prepare) the images of upcoming batches in worker threads while the model runs.

PIL releases the GIL while it decodes and resizes, and torch while it normalizes, so threads
overlap that work with model compute. `prepare` is the backend's `prepare_image` (resize and
normalize to a tensor for the HF backends). Both are deterministic, so outputs are the same bits
as doing the work in the loop; a bad image raises its error when its batch is reached, exactly as
it would have without prefetching.

The first batch is decoded in the calling thread and its images left for the backend to prepare,
as with no workers: nothing is ahead of it to overlap with, so waiting on threads only adds their
start-up. The next batches are scheduled once it is decoded, so the threads do not compete with
that decode for the cores. The threads are kept for the process, one pool per worker count (as
DataLoader's persistent workers): starting them took 1-7 ms on a 2-core machine right after
compute, with torch's threads still spinning, and a lazily started thread beside busy decode
threads ~3 ms. A prefetcher cancels only its own pending work when it closes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from PIL import Image

from ..images import load_rgb
from ..types import ImageSource


class NeedsImage(Protocol):
    """What the prefetcher reads of a batch item: a generation request, or a retrieval gallery image."""

    @property
    def image(self) -> ImageSource: ...

    @property
    def sample_id(self) -> str: ...


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """The process's pool of `workers` decode threads, all started before it is first returned."""
    with _POOLS_LOCK:
        if workers not in _POOLS:
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"decode{workers}")
            barrier = threading.Barrier(workers, timeout=10)  # each thread holds it until all have started
            for started in [pool.submit(barrier.wait) for _ in range(workers)]:
                started.result()
            _POOLS[workers] = pool
        return _POOLS[workers]


def _decode(source: ImageSource, sample_id: str, prepare: Callable[[Image.Image], Any] | None) -> Any:
    image = load_rgb(source, sample_id)
    return prepare(image) if prepare is not None else image


class ImagePrefetcher:
    """Batches are read in the order given; at most `ahead` batches are decoded in advance."""

    def __init__(
        self,
        batches: Sequence[Sequence[NeedsImage]],
        order: Sequence[int],
        workers: int,
        ahead: int = 2,
        prepare: Callable[[Image.Image], Any] | None = None,
    ) -> None:
        self._batches, self._order, self._ahead, self._prepare = batches, list(order), max(1, ahead), prepare
        self._position = {k: i for i, k in enumerate(self._order)}
        self._pool = _pool(workers) if workers > 0 else None
        self._futures: dict[int, dict[str, Future[Any]]] = {}
        self._next = 1  # position in `order` of the next batch to schedule (the first is decoded here)

    def _schedule_until(self, position: int) -> None:
        assert self._pool is not None
        while self._next < len(self._order) and self._next <= position + self._ahead:
            k = self._order[self._next]
            futures: dict[str, Future[Any]] = {}
            for r in self._batches[k]:
                if r.image.key not in futures:
                    futures[r.image.key] = self._pool.submit(_decode, r.image, r.sample_id, self._prepare)
            self._futures[k] = futures
            self._next += 1

    def _decode_here(self, k: int) -> dict[str, Future[Any]]:
        """Batch k's images decoded in this thread, not prepared; an error is kept for its batch."""
        done: dict[str, Future[Any]] = {}
        for r in self._batches[k]:
            if r.image.key not in done:
                done[r.image.key] = future = Future()
                try:
                    future.set_result(load_rgb(r.image, r.sample_id))
                except Exception as exc:  # as a pool thread would keep it
                    future.set_exception(exc)
        return done

    def images(self, k: int) -> dict[str, Future[Any]]:
        """Batch k's decoded (and prepared) images by key (empty: decode in the loop); schedules the next."""
        if self._pool is None or k not in self._position:
            return {}
        position = self._position[k]
        images = self._decode_here(k) if position == 0 else self._futures.pop(k, {})
        self._schedule_until(position)
        return dict(images)

    def close(self) -> None:
        for futures in self._futures.values():  # the pool is shared: only this prefetcher's work
            for future in futures.values():
                future.cancel()
        self._futures.clear()

    def __enter__(self) -> ImagePrefetcher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
