"""`blip2-bench bench` in its CI-sized form: every path runs, answers are compared, figures are
written. No timing is asserted (figures only)."""

from __future__ import annotations

import json

import pytest

from blip2_bench.cli import main

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "arch, workers, order", [("tiny-opt", "4", "image"), ("tiny-t5", "4", "length"), ("tiny-opt", "0", "length")]
)
def test_bench_runs_the_harness_and_both_baselines_and_writes_the_figures(arch, workers, order, tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = ["bench", "--arch", arch, "--images", "3", "--per-image", "3", "--batch-size", "4", "--repeats", "1"]
    args += ["--image-workers", workers, "--batch-order", order]
    assert main([*args, "--new-tokens", "3", "--beams", "2", "--work", str(tmp_path / "w"), "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["workload"]["questions"] == 9 and figures["workload"]["arch"] == arch
    assert set(figures["paths"]) == {"harness", "naive", "reencode"}
    harness = figures["paths"]["harness"]
    assert set(harness["stages_s"]) == {
        "load + decode images",
        "image processing + vision + Q-Former",
        "tokenize + LLM generation + detokenize",
    }
    # The model thread decodes every batch without workers and the first batch with them.
    assert harness["stages_s"]["load + decode images"] > 0
    assert figures["workload"]["image_workers"] == int(workers)
    assert figures["workload"]["batch_order"] == order
    assert set(figures["prompt_padding"]) == {"image", "length"}
    assert all(0 <= share < 1 for share in figures["prompt_padding"].values())
    assert harness["harness_overhead"] is not None and harness["projected_vqav2_val_min"] > 0
    assert harness["harness_overhead_median"] is not None
    for baseline in ("naive", "reencode"):
        # The harness (features reused, batches by image) answers exactly as plain transformers does.
        assert figures["paths"][baseline]["answers_agree_with_harness"] == 1.0
        assert figures["paths"][baseline]["harness_speedup"] > 0
    assert figures["mfu"] is None  # CPU: no MFU
    printed = capsys.readouterr().out
    assert (
        "| harness |" in printed
        and "Harness overhead" in printed
        and "Prompt padding" in printed
        and "Projected full VQAv2 val" in printed
    )
