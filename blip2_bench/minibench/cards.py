"""Model cards (README.md) for the shipped pairings: data, training, scores next to the random-weight twin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .batches import CAPTION_PROMPT, VQA_PROMPTS
from .build import FORMAT_VERSION, Sizes
from .vocab import NOVEL_COLOURS, NOVEL_SHAPES, TRAIN_COLOURS, TRAIN_SHAPES

RECORD = "minibench_training.json"
"""Written beside the weights: the training record and the scores the card shows."""


def _fmt(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def scores_table(scores: dict[str, Any]) -> str:
    """Markdown: task | metric | trained | random weights."""
    lines = ["| task | metric | trained | random weights |", "|---|---|---|---|"]
    for task, metrics in scores.get("trained", {}).items():
        for metric, value in metrics.items():
            twin = scores.get("random", {}).get(task, {}).get(metric, "")
            lines.append(f"| {task} | {metric} | {_fmt(value)} | {_fmt(twin)} |")
    return "\n".join(lines)


def write_card(model_dir: Path, record: dict[str, Any], scores: dict[str, Any] | None) -> Path:
    """README.md and minibench_training.json in `model_dir`."""
    cfg, spec = record["train_config"], record["spec"]
    family = {
        "opt": "OPT-style decoder-only LM",
        "t5": "Flan-T5-style encoder-decoder LM",
        "itm": "Q-Former with text input, ITC projections and ITM head",
    }[record["family"]]
    if record["family"] == "itm":
        objective = (
            "ITC (symmetric InfoNCE over max-over-queries similarity, temperature "
            f"{cfg['temperature']}) + ITM (positives and one softmax-sampled hard negative per image and per "
            "text), as BLIP-2 stage 1; text = one reference caption per image, preprocessed by LAVIS's blip_caption"
        )
    else:
        objective = (
            "next-token cross-entropy on the answer only, in the harness's prompt formats: per image one caption "
            f"(prompt {CAPTION_PROMPT!r}, target a reference caption) and two VQA questions (prompt "
            f"{VQA_PROMPTS[record['family']]!r}, question through LAVIS's blip_question, target the answer); "
            "OPT targets end with the newline the harness stops at, T5 targets with </s>"
        )
    if record["family"] == "itm":
        head = f"ITC embedding: {spec['embed_dim']}."
    else:
        head = f"Language model: width {spec['lm_hidden']}, {spec['lm_layers']} layers, FFN {spec['lm_ffn']}."
    init = (
        " Initialisation: every weight matrix N(0, 1/fan_in), position/class embeddings and query tokens"
        " N(0, 1/width) (`models.fan_in_init`; transformers' N(0, 0.02) leaves ITC stuck on the background)."
        if spec.get("fan_in_init")
        else ""
    )
    score_text = scores_table(scores) if scores else "_not scored yet: run `scripts/train_minibench.py --score`_"
    text = f"""# {record["name"]}

A tiny BLIP-2 (`{"Blip2ForImageTextRetrieval" if record["family"] == "itm" else "Blip2ForConditionalGeneration"}`,
{family}) trained from scratch on the training split of blip2-bench's generated mini benchmark
(`blip2_bench/minibench`). It exists so the default benchmark and the CI quality gate have scores that mean
something on a CPU. It knows nothing outside the mini benchmark's world.

## Architecture

{record["parameters"]:,} parameters. Vision: ViT, {spec["image_size"]} px, patch {spec["patch_size"]},
width {spec["vision_hidden"]}, {spec["vision_layers"]} layers. Q-Former: width {spec["qformer_hidden"]},
{spec["qformer_layers"]} layers, {spec["num_query_tokens"]} queries.
{head}
Tokenizer: word level over the benchmark's vocabulary, with the real checkpoints' special-token conventions
(`blip2_bench/minibench/tokenizers.py`). Image processing: {spec["image_size"]}x{spec["image_size"]} bicubic, CLIP
mean/std (run it with `backend.image_size={spec["image_size"]}`).

## Data

Mini benchmark format version {FORMAT_VERSION}, seed {cfg["seed"]}: {cfg["n_scenes"]} training scenes (groups of
coloured shapes in a 3x3 grid; shapes {", ".join(TRAIN_SHAPES)}; colours {", ".join(TRAIN_COLOURS)}), disjoint from
every test scene. Never in training: the NoCaps-style novel shapes ({", ".join(NOVEL_SHAPES)}) and colour
({", ".join(NOVEL_COLOURS)}). Test sets (default sizes {Sizes()}) are regenerated from the seed by
`blip2-bench make-minibench`.

## Training

Objective: {objective}. AdamW, lr {cfg["lr"]} (warm-up {cfg["warmup"]} steps, cosine to 5%), weight decay
{cfg["weight_decay"]}, {cfg["steps"]} steps of {cfg["batch_images"]} images, gradient clipping 1.0, init and data
seed {cfg["seed"]}.{init} Deterministic algorithms, {record["threads"]} threads, torch {record["torch"]}:
{record["seconds"]} s on the machine that trained it. Loss {record["first_loss"]:.3f} -> {record["final_loss"]:.3f}
(mean of the last 100 steps).

Reproduce: `python scripts/train_minibench.py --only {record["name"]}` (bit-identical weights on the same CPU type,
thread count and torch version).

## Scores (mini benchmark test sets, the harness's protocol, `blip2-bench backend={record["name"]}`)

The random-weight twin has the same architecture, tokenizer and initialisation seed, untrained.

{score_text}
"""
    (model_dir / "README.md").write_text(text, encoding="utf-8")
    (model_dir / RECORD).write_text(json.dumps({"training": record, "scores": scores}, indent=1), encoding="utf-8")
    return model_dir / "README.md"
