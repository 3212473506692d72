"""The three timed paths over one workload: the harness, a naive loop, a batched re-encoding loop.

harness:  the runner's batch plan, image prefetcher (decode + the backend's prepare_image in
          `image_workers` threads, as a run does) and batch function (OOM-splitting generate) on
          the HF backend, which encodes each image once for all its questions.
naive:    batch size 1, plain transformers: processor(image, prompt) and model.generate per question.
reencode: batches of the same size, plain transformers, the image processed and encoded once per
          question (what peers do).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import torch
from PIL import Image

from ..types import GenerationRequest

COMPUTE_STAGES = ("image processing + vision + Q-Former", "tokenize + LLM generation + detokenize")
"""The backend's own work; everything else in the harness's wall time is harness overhead."""


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Timed:
    outputs: list[str]
    wall_s: float
    stages: dict[str, float] = field(default_factory=dict)
    """Seconds per stage (harness only); what is left of the wall time is harness overhead."""


@contextmanager
def _timing(obj: Any, name: str, stages: dict[str, float], stage: str, device: torch.device) -> Iterator[None]:
    """Wrap obj.name so each call made on this (the model's) thread adds its device-synchronized
    seconds to stages[stage]; calls in the prefetch threads run untimed, beside the model."""
    real = getattr(obj, name)
    model_thread = threading.current_thread()

    def timed(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is not model_thread:
            return real(*args, **kwargs)
        _sync(device)
        started = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            _sync(device)
            stages[stage] += time.perf_counter() - started

    setattr(obj, name, timed)
    try:
        yield
    finally:
        setattr(obj, name, real)


def run_harness(
    backend: Any, requests: Sequence[GenerationRequest], batch_size: int, image_workers: int = 4, order: str = "image"
) -> Timed:
    """Stage times are the model thread's: work done ahead in the prefetch threads is not in them."""
    from ..runner import generation, prefetch
    from ..runner.generation import GenerationExecutor
    from ..runner.plan import plan_batches
    from ..runner.prefetch import ImagePrefetcher

    stages: dict[str, float] = defaultdict(float)
    stages["load + decode images"] = 0.0  # with workers: the first batch's decode (the threads do the rest)
    ctx = SimpleNamespace(run=SimpleNamespace(on_bad_image="fail"), backend=lambda: backend)
    executor = GenerationExecutor()
    outputs: dict[str, str] = {}
    device = backend.device
    with (
        _timing(generation, "load_rgb", stages, "load + decode images", device),
        _timing(prefetch, "load_rgb", stages, "load + decode images", device),
        _timing(backend, "encode_images", stages, COMPUTE_STAGES[0], device),
        _timing(backend, "generate_from_features", stages, COMPUTE_STAGES[1], device),
    ):
        _sync(device)
        started = time.perf_counter()
        batches = [[requests[i] for i in batch] for batch in plan_batches(requests, batch_size, order)]
        prepare = backend.prepare_image if image_workers else None
        with ImagePrefetcher(batches, range(len(batches)), image_workers, prepare=prepare) as prefetcher:
            for k, batch in enumerate(batches):
                for entry in executor._run_batch(batch, ctx, prefetcher.images(k)):  # type: ignore[arg-type]
                    outputs[entry["id"]] = entry["raw"]
        _sync(device)
        wall = time.perf_counter() - started
    return Timed([outputs[r.sample_id] for r in requests], wall, dict(stages))


def _plain_generate(backend: Any, images: list[Image.Image], prompts: list[str], settings: Any) -> list[str]:
    """Plain transformers: the processor lays out image tokens, model.generate does the rest."""
    inputs = backend.processor(images=images, text=prompts, return_tensors="pt", padding=True)
    device, dtype = backend.device, backend.dtype
    inputs = {k: (v.to(device, dtype) if v.is_floating_point() else v.to(device)) for k, v in inputs.items()}
    with torch.inference_mode():
        out = backend.model.generate(**inputs, **backend._generation_kwargs(settings))
    if not backend.model.config.use_decoder_only_language_model or out.shape[1] <= inputs["input_ids"].shape[1]:
        new = out
    else:  # decoder-only generate returns the prompt too
        new = out[:, inputs["input_ids"].shape[1] :]
    return [t.strip() for t in backend.tokenizer.batch_decode(new, skip_special_tokens=True)]


def _loop(backend: Any, requests: Sequence[GenerationRequest], batch_size: int) -> Timed:
    device = backend.device
    _sync(device)
    started = time.perf_counter()
    outputs: list[str] = []
    for start in range(0, len(requests), batch_size):
        chunk = requests[start : start + batch_size]
        images = [Image.open(r.image.path).convert("RGB") for r in chunk]  # type: ignore[arg-type]
        outputs += _plain_generate(backend, images, [r.prompt for r in chunk], chunk[0].settings)
    _sync(device)
    return Timed(outputs, time.perf_counter() - started)


def run_naive(backend: Any, requests: Sequence[GenerationRequest]) -> Timed:
    return _loop(backend, requests, 1)


def run_reencode(backend: Any, requests: Sequence[GenerationRequest], batch_size: int) -> Timed:
    return _loop(backend, requests, batch_size)


PATHS: dict[str, Callable[..., Timed]] = {"harness": run_harness, "naive": run_naive, "reencode": run_reencode}
