"""Peak host memory of the retrieval stages at Flickr30K (1k x 5k) and COCO (5k x 25k) sizes.

Synthetic inputs of the real shapes: 32 normalised 256-d query embeddings per image, one
normalised 256-d embedding per text, random ITM logits for the candidate pairs. Each size
runs in a fresh subprocess; each stage's peak is measured by resetting the kernel's
peak-RSS counter (Linux: write 5 to /proc/self/clear_refs) just before the stage and
reading VmHWM after it, so a stage's figure excludes earlier stages' temporaries.

    python benchmarks/retrieval_memory.py                 # both sizes
    python benchmarks/retrieval_memory.py --sizes 1000x5000 --k 128

Stages:
  ranking    itc_similarity (chunked) + rerank_candidates (top-k both ways)
  reranking  candidate_pairs + assemble_reranked (ITM scores given) -> two dense float32 matrices
  metrics    recall_metrics on the re-ranked matrices
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

MIB = 1024 * 1024
QUERIES, DIM = 32, 256


def _status() -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of this process, in bytes."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":")
            out[key] = int(value.split()[0]) * 1024
    return out


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


def _measure(name: str, fn, results: list[dict]):  # noqa: ANN001
    _reset_peak()
    before = _status()["VmRSS"]
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    after = _status()
    results.append(
        {
            "stage": name,
            "rss_before_mib": before / MIB,
            "peak_mib": after["VmHWM"] / MIB,
            "peak_increase_mib": (after["VmHWM"] - before) / MIB,
            "retained_increase_mib": (after["VmRSS"] - before) / MIB,
            "seconds": seconds,
        }
    )
    return value


def run_one(n_img: int, n_txt: int, k: int, seed: int) -> dict:
    import torch

    from blip2_bench.metrics.retrieval import (
        assemble_reranked,
        candidate_pairs,
        itc_similarity,
        recall_metrics,
        rerank_candidates,
    )

    torch.manual_seed(seed)
    image = torch.nn.functional.normalize(torch.randn(n_img, QUERIES, DIM), dim=-1)
    text = torch.nn.functional.normalize(torch.randn(n_txt, DIM), dim=-1)
    per_image = n_txt // n_img
    txt2img = [t // per_image for t in range(n_txt)]
    img2txt = [list(range(i * per_image, (i + 1) * per_image)) for i in range(n_img)]
    results: list[dict] = []

    def ranking():
        sim = itc_similarity(image, text)
        return sim, *rerank_candidates(sim, k)

    sim, i2t_idx, t2i_idx = _measure("ranking", ranking, results)

    def reranking():
        pairs = candidate_pairs(i2t_idx, t2i_idx)
        itm = torch.randn(len(pairs))  # stands in for the model's ITM logits
        return len(pairs), *assemble_reranked(sim, i2t_idx, t2i_idx, pairs, itm)

    n_pairs, score_i2t, score_t2i = _measure("reranking", reranking, results)
    _measure("metrics", lambda: recall_metrics(score_i2t, score_t2i, txt2img, img2txt), results)
    return {
        "images": n_img,
        "texts": n_txt,
        "k": k,
        "pairs": n_pairs,
        "inputs_mib": (image.numel() + text.numel()) * 4 / MIB,
        "matrix_mib": n_img * n_txt * 4 / MIB,
        "naive_mib": n_img * QUERIES * n_txt * 4 / MIB,
        "threads": torch.get_num_threads(),
        "stages": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000x5000,5000x25000", help="IMAGESxTEXTS, comma separated")
    parser.add_argument("--k", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child mode: one size, JSON on stdout
    args = parser.parse_args(argv)
    if args.one:
        n_img, n_txt = map(int, args.one.split("x"))
        print(json.dumps(run_one(n_img, n_txt, args.k, args.seed)))
        return 0
    for size in args.sizes.split(","):
        cmd = [sys.executable, __file__, "--one", size, "--k", str(args.k), "--seed", str(args.seed)]
        out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        print(
            f"\n{out['images']} images x {out['texts']} texts, k={out['k']}, {out['pairs']} unique ITM pairs, "
            f"{out['threads']} threads"
        )
        print(
            f"  inputs {out['inputs_mib']:.0f} MiB; one images x texts float32 matrix {out['matrix_mib']:.0f} MiB; "
            f"naive images x 32 x texts tensor {out['naive_mib']:.0f} MiB (never built)"
        )
        print(f"  {'stage':<10}{'RSS before':>12}{'peak':>10}{'peak - before':>15}{'kept':>10}{'seconds':>9}")
        for s in out["stages"]:
            print(
                f"  {s['stage']:<10}{s['rss_before_mib']:>10.0f}Mi{s['peak_mib']:>8.0f}Mi"
                f"{s['peak_increase_mib']:>13.0f}Mi{s['retained_increase_mib']:>8.0f}Mi{s['seconds']:>9.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
