"""Model FLOPs utilization of the harness path on a GPU (approximate, stated as such).

FLOPs per token are taken as 2 x parameters (matmuls; attention's quadratic term is ignored, small
at these lengths): the vision encoder over its patches per image, the Q-Former over its queries
per image, the LLM over queries + prompt per beam (prefill) and one token per beam per step (decode).
"""

from __future__ import annotations

from typing import Any

# Dense fp16/bf16 tensor-core peaks (TFLOP/s) by a substring of torch.cuda.get_device_name().
PEAK_TFLOPS_HALF = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0, "L4": 121.0}


def _params(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


def mfu(backend: Any, workload: dict[str, Any], wall_s: float) -> dict[str, Any] | None:
    if backend.device.type != "cuda" or workload["dtype"] not in ("float16", "bfloat16"):
        return None
    name = str(workload.get("device_name") or "")
    peak = next((v for k, v in PEAK_TFLOPS_HALF.items() if k in name), None)
    model = backend.model
    vision_cfg = model.config.vision_config
    patches = (vision_cfg.image_size // vision_cfg.patch_size) ** 2 + 1
    queries = int(model.config.num_query_tokens)
    prompt_tokens = 12  # the workload's prompts: about 8-13 words
    beams, new = workload["num_beams"], workload["new_tokens"]
    lm = _params(model.language_model)
    per_image = 2 * _params(model.vision_model) * patches + 2 * _params(model.qformer) * queries
    per_question = 2 * lm * beams * (queries + prompt_tokens + new)
    total = per_image * workload["images"] + per_question * workload["questions"]
    achieved = total / wall_s / 1e12
    return {
        "achieved_tflops": round(achieved, 2),
        "peak_tflops": peak,
        "mfu": round(achieved / peak, 4) if peak else None,
        "note": "2 x params per token; attention's quadratic term ignored",
    }
