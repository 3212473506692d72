"""The device check: `blip2-bench bench` on the full blip2-opt-2.7b architecture (random weights,
built offline) with a VQAv2-val-shaped workload; prints the harness against the naive batch-1 loop
and the re-encoding batched loop, per-stage times, MFU and the projection to full VQAv2 val.

  python benchmarks/gpu_full_size.py [extra bench options, e.g. --arch blip2-flan-t5-xl]

Sized for a few minutes on one H100/H200: 64 images x 5 questions (320), batch 64, every path on
the same samples (the naive batch-1 loop dominates the time).
"""

from __future__ import annotations

import sys

from blip2_bench.bench.cli import bench_main

DEFAULTS = ["--arch", "blip2-opt-2.7b", "--images", "64", "--per-image", "5", "--batch-size", "64", "--repeats", "2"]

if __name__ == "__main__":
    sys.exit(bench_main([*DEFAULTS, "--json", "bench-gpu.json", *sys.argv[1:]]))
