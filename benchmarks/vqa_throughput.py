"""Print VQA generation throughput of the HF backend: batch sizes, and encode-once vs per-question.

Usage: python benchmarks/vqa_throughput.py [MODEL_DIR] [--device cpu|cuda] [--dtype auto|float16|...]
Without MODEL_DIR a tiny random OPT BLIP-2 is built offline (figures then show harness and
HF overheads, not a real model's cost). Figures are printed; nothing here asserts a target.
"""

from __future__ import annotations

import argparse
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
    print(f"{'batch':>6} {'encode-once s':>14} {'req/s':>8} {'per-question encode s':>22} {'req/s':>8}")
    for batch_size in (1, 4, 16, 32):
        batches = [requests[i : i + batch_size] for i in range(0, len(requests), batch_size)]
        once = _time(lambda batches=batches: [backend.generate(b, images) for b in batches])

        def per_question(batches: list[list[GenerationRequest]] = batches) -> None:
            # What a harness without image reuse does: every request encodes its own image.
            for b in batches:
                feats = torch.cat([backend.encode_images([images[r.image.key]]) for r in b])
                backend.generate_from_features(feats, [r.prompt for r in b], SETTINGS)

        each = _time(per_question)
        n = len(requests)
        print(f"{batch_size:>6} {once:>14.3f} {n / once:>8.1f} {each:>22.3f} {n / each:>8.1f}")
    if torch.cuda.is_available():
        print(f"peak CUDA memory: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
