"""Print VQA generation throughput of the HF backend: batch sizes, and encode-once vs per-question.

Usage: python benchmarks/vqa_throughput.py [MODEL_DIR] [--device cpu|cuda] [--dtype auto|float16|...] [--repeats 5]
Without MODEL_DIR a tiny random OPT BLIP-2 is built offline (figures then show harness and
HF overheads, not a real model's cost). Each cell is timed --repeats times, the two ways
alternating, and printed as min and median seconds (req/s from the median): single timings
on a shared machine varied 10-300x. Nothing here asserts a target.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from blip2_bench.backends._hf import HfBlip2Options as BackendConfig
from blip2_bench.backends.hf_blip2 import HfBlip2Backend
from blip2_bench.demo.tiny_models import build_tiny_blip2
from blip2_bench.types import GenerationRequest, GenerationSettings, ImageSource

SETTINGS = GenerationSettings(num_beams=5, max_new_tokens=10, min_new_tokens=1, length_penalty=-1.0)


def _workload(n_images: int, per_image: int) -> tuple[list[GenerationRequest], dict[str, Image.Image]]:
    images = {f"img{i}": Image.new("RGB", (64, 48), (i * 37 % 255, 90, 160)) for i in range(n_images)}
    requests = [
        GenerationRequest(
            f"{i}-{q}",
            ImageSource(f"img{i}", path="unused"),
            f"Question: what is shown here number {q}? Answer:",
            SETTINGS,
        )
        for i in range(n_images)
        for q in range(per_image)
    ]
    return requests, images


def _time(fn) -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", nargs="?")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--questions-per-image", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5, help="timings per cell (min and median printed)")
    args = parser.parse_args()
    model = args.model or str(build_tiny_blip2(Path(tempfile.mkdtemp()) / "tiny-opt", "opt"))
    backend = HfBlip2Backend(
        BackendConfig(
            name="bench",
            model=model,
            family="opt",
            dtype=args.dtype,
            device=args.device,
            image_size=224 if args.model else 32,
        )
    )
    requests, images = _workload(args.images, args.questions_per_image)
    backend.generate(requests[:2], images)  # warm-up
    print(
        f"model={model} device={backend.device} dtype={backend.dtype} "
        f"requests={len(requests)} ({args.images} images x {args.questions_per_image} questions)"
    )
    print(f"repeats per cell: {args.repeats} (min / median seconds; req/s from the median)")
    print(f"{'batch':>6} {'encode-once s':>16} {'req/s':>8} {'per-question encode s':>22} {'req/s':>8}")
    n = len(requests)
    for batch_size in (1, 4, 16, 32):
        batches = [requests[i : i + batch_size] for i in range(0, len(requests), batch_size)]

        def once(batches: list[list[GenerationRequest]] = batches) -> None:
            for b in batches:
                backend.generate(b, images)

        def per_question(batches: list[list[GenerationRequest]] = batches) -> None:
            # What a harness without image reuse does: every request encodes its own image.
            for b in batches:
                feats = torch.cat([backend.encode_images([images[r.image.key]]) for r in b])
                backend.generate_from_features(feats, [r.prompt for r in b], SETTINGS)

        times: dict[str, list[float]] = {"once": [], "each": []}
        for r in range(args.repeats):  # alternate who goes first, so drift hits both alike
            for name, fn in (("once", once), ("each", per_question))[:: 1 if r % 2 == 0 else -1]:
                times[name].append(_time(fn))
        cells = []
        for name in ("once", "each"):
            low, mid = min(times[name]), statistics.median(times[name])
            cells.append((f"{low:.3f} / {mid:.3f}", n / mid))
        (a, ra), (b, rb) = cells
        print(f"{batch_size:>6} {a:>16} {ra:>8.1f} {b:>22} {rb:>8.1f}")
    if torch.cuda.is_available():
        print(f"peak CUDA memory: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
