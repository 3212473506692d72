"""Decode (and prepare) the images of upcoming batches in worker threads while the model runs.

PIL releases the GIL while it decodes and resizes, and torch while it normalizes, so threads
overlap that work with model compute. `prepare` is the backend's `prepare_image` (resize and
normalize to a tensor for the HF backends). Both are deterministic, so outputs are the same bits
as doing the work in the loop; a bad image raises its error when its batch is reached, exactly as
it would have without prefetching.
"""

from __future__ import annotations

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
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") if workers > 0 else None
        self._futures: dict[int, dict[str, Future[Any]]] = {}
        self._next = 0  # position in `order` of the next batch to schedule

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

    def images(self, k: int) -> dict[str, Future[Any]]:
        """Batch k's decoded (and prepared) images by key (empty: decode in the loop); schedules the next."""
        if self._pool is None or k not in self._position:
            return {}
        self._schedule_until(self._position[k])
        return dict(self._futures.pop(k, {}))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> ImagePrefetcher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
