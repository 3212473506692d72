"""`blip2-bench bench`: run the harness path and two baselines on one VQAv2-shaped workload in one
process, check that their answers agree, print and write throughput, per-stage time, harness
overhead, peak memory, ratios and the projection to full VQAv2 val. Figures only; nothing asserts.
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from ..config import BATCH_ORDERS
from ..files import atomic_write_json
from .architectures import ARCHITECTURES, build_random, family_of, image_size_of
from .flops import mfu
from .paths import COMPUTE_STAGES, PATHS, Timed
from .workload import make_workload

VQAV2_VAL_QUESTIONS, VQAV2_VAL_IMAGES = 214_354, 40_504
PROMPTS = {"opt": "Question: {} Answer:", "t5": "Question: {} Short answer:"}


def _backend(model: Path, arch: str, args: argparse.Namespace) -> Any:
    from ..backends._hf import HfBlip2Options
    from ..backends.hf_blip2 import HfBlip2Backend

    options = HfBlip2Options(
        name=f"bench-{arch}",
        model=str(model),
        family=family_of(arch),
        image_size=image_size_of(arch),
        batch_size=args.batch_size,
        device=args.device,
        dtype=args.dtype,
    )
    return HfBlip2Backend(options)


def _agreement(a: Timed, b: Timed) -> float:
    return sum(x == y for x, y in zip(a.outputs, b.outputs, strict=True)) / max(1, len(a.outputs))


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    from ..types import GenerationSettings

    out = Path(args.work or tempfile.mkdtemp(prefix="blip2-bench-"))
    model = Path(args.model) if args.model else build_random(args.arch, out / "models", _device_type(args.device))
    backend = _backend(model, args.arch, args)
    # Pinned length: random weights would otherwise stop at arbitrary points and change the work.
    settings = GenerationSettings(args.beams, args.new_tokens, args.new_tokens, length_penalty=-1.0)
    requests = make_workload(
        out / "images", args.images, args.per_image, settings, PROMPTS[family_of(args.arch)], seed=args.seed
    )
    # Warm-up: the model, and the decode threads, which a run keeps for the process.
    PATHS["harness"](backend, requests[: min(len(requests), args.batch_size)], args.batch_size, args.image_workers)
    results: dict[str, Timed] = {}
    for name in args.paths:
        if backend.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        runs = [_run_path(name, backend, requests, args) for _ in range(args.repeats)]
        best = min(runs, key=lambda r: r.wall_s)
        best.stages["_median_wall_s"] = sorted(r.wall_s for r in runs)[len(runs) // 2]
        overheads = sorted(o for o in (harness_overhead(r) for r in runs) if o is not None)
        best.stages["_median_overhead"] = overheads[len(overheads) // 2] if overheads else None
        on_gpu = backend.device.type == "cuda"
        best.stages["_peak_gpu_gib"] = torch.cuda.max_memory_allocated() / 2**30 if on_gpu else 0.0
        results[name] = best
    harness = results.get("harness")
    figures: dict[str, Any] = {
        "workload": {
            "arch": args.arch,
            "model": str(model),
            "images": args.images,
            "questions_per_image": args.per_image,
            "questions": len(requests),
            "batch_size": args.batch_size,
            "image_workers": args.image_workers,
            "batch_order": args.batch_order,
            "num_beams": args.beams,
            "new_tokens": args.new_tokens,
            "device": str(backend.device),
            "device_name": backend.provenance().get("device_name"),
            "dtype": str(backend.dtype).removeprefix("torch."),
            "repeats": args.repeats,
            "host": platform.node(),
            "cpus": torch.get_num_threads(),
        },
        "prompt_padding": prompt_padding(backend, requests, args.batch_size),
        "paths": {},
        "peak_host_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }
    for name, timed in results.items():
        stages = {k: v for k, v in timed.stages.items() if not k.startswith("_")}
        entry: dict[str, Any] = {
            "wall_s_min": timed.wall_s,
            "wall_s_median": timed.stages["_median_wall_s"],
            "questions_per_s": len(requests) / timed.wall_s,
            "images_per_s": args.images / timed.wall_s,
            "peak_gpu_gib": timed.stages["_peak_gpu_gib"],
        }
        if stages:
            entry["stages_s"] = stages
            entry["harness_overhead"] = harness_overhead(timed)
            # One noisy repeat can move the fastest run's share by points; the median is steadier.
            entry["harness_overhead_median"] = timed.stages["_median_overhead"]
            entry["projected_vqav2_val_min"] = VQAV2_VAL_QUESTIONS / entry["questions_per_s"] / 60
        if harness is not None and name != "harness":
            entry["harness_speedup"] = timed.wall_s / harness.wall_s
            entry["answers_agree_with_harness"] = _agreement(harness, timed)
        figures["paths"][name] = entry
    if harness is not None:
        figures["mfu"] = mfu(backend, figures["workload"], harness.wall_s)
    return figures


def harness_overhead(timed: Timed) -> float | None:
    """Wall time outside backend compute, as a share of backend compute (harness runs only)."""
    compute = timed.stages.get(COMPUTE_STAGES[0], 0.0) + timed.stages.get(COMPUTE_STAGES[1], 0.0)
    return (timed.wall_s - compute) / compute if compute else None


def prompt_padding(backend: Any, requests: list[Any], batch_size: int) -> dict[str, float]:
    """Share of the LLM prompt positions that are padding under each batch order (the backend's
    tokenizer counts the tokens; the 32 query embeddings, never padded, are left out)."""
    from ..runner.plan import padding_fraction, plan_batches

    lengths = [len(ids) for ids in backend.tokenizer([r.prompt for r in requests])["input_ids"]]
    return {order: padding_fraction(plan_batches(requests, batch_size, order), lengths) for order in BATCH_ORDERS}


def _run_path(name: str, backend: Any, requests: list[Any], args: argparse.Namespace) -> Timed:
    if name == "naive":
        return PATHS[name](backend, requests)
    if name == "harness":
        return PATHS[name](backend, requests, args.batch_size, args.image_workers, args.batch_order)
    return PATHS[name](backend, requests, args.batch_size)


def _device_type(device: str) -> str:
    return "cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu"


def render(figures: dict[str, Any]) -> str:
    w = figures["workload"]
    lines = [
        f"bench: {w['arch']} ({w['dtype']} on {w['device_name'] or w['device']}), {w['questions']} questions on "
        f"{w['images']} images, batch {w['batch_size']}, {w['num_beams']} beams x {w['new_tokens']} new tokens, "
        f"{w['image_workers']} image workers, {w['batch_order']} batch order, "
        f"best of {w['repeats']}",
        "",
        "| path | wall s (min / median) | questions/s | images/s | harness speed-up | same answers | peak GPU GiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, e in figures["paths"].items():
        speedup = f"{e['harness_speedup']:.2f}x" if "harness_speedup" in e else "—"
        agree = f"{100 * e['answers_agree_with_harness']:.1f}%" if "answers_agree_with_harness" in e else "—"
        lines.append(
            f"| {name} | {e['wall_s_min']:.3f} / {e['wall_s_median']:.3f} | {e['questions_per_s']:.1f} | "
            f"{e['images_per_s']:.1f} | {speedup} | {agree} | {e['peak_gpu_gib']:.2f} |"
        )
    harness = figures["paths"].get("harness")
    if harness:
        lines += ["", "Harness stages (s): " + ", ".join(f"{k} {v:.3f}" for k, v in harness["stages_s"].items())]
        if harness["harness_overhead"] is not None:
            fastest, median = 100 * harness["harness_overhead"], 100 * harness["harness_overhead_median"]
            lines.append(
                f"Harness overhead (wall outside backend compute / backend compute): {fastest:.1f}% in the fastest "
                f"run, {median:.1f}% median of the runs"
            )
        lines.append(
            f"Projected full VQAv2 val ({VQAV2_VAL_QUESTIONS:,} questions) at this rate: "
            f"{harness['projected_vqav2_val_min']:.1f} min"
        )
    if figures.get("mfu") is not None:
        lines.append(f"MFU: {figures['mfu']}")
    padding = ", ".join(f"{order} order {100 * share:.1f}%" for order, share in figures["prompt_padding"].items())
    lines.append(f"Prompt padding (share of LLM prompt positions): {padding}")
    lines.append(f"Peak host RSS: {figures['peak_host_rss_gib']:.2f} GiB")
    return "\n".join(lines)


def bench_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="blip2-bench bench", description=__doc__)
    parser.add_argument("--arch", choices=ARCHITECTURES, default="tiny-opt", help="model to build with random weights")
    parser.add_argument("--model", help="a local checkpoint instead (of --arch's family)")
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--per-image", type=int, default=5, help="questions per image (VQAv2 val: 5.3)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--image-workers", type=int, default=4, help="harness decode + preprocess threads, as a run's image_workers"
    )
    parser.add_argument(
        "--batch-order", choices=BATCH_ORDERS, default="image", help="the harness's batch plan, as a run's batch_order"
    )
    parser.add_argument("--beams", type=int, default=5)
    parser.add_argument("--new-tokens", type=int, default=10, help="generated length, pinned (min = max)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--paths", nargs="+", choices=list(PATHS), default=list(PATHS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", help="folder for the built model and images (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=Path("bench.json"), help="figures file (default bench.json)")
    args = parser.parse_args(argv)
    if args.images < 1 or args.per_image < 1 or args.batch_size < 1 or args.repeats < 1:
        parser.error("--images, --per-image, --batch-size and --repeats must be at least 1")
    if args.image_workers < 0:
        parser.error("--image-workers must be at least 0")
    started = time.perf_counter()
    figures = run_bench(args)
    figures["total_s"] = time.perf_counter() - started
    print(render(figures))
    atomic_write_json(args.json, figures)
    print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(bench_main(sys.argv[1:]))
