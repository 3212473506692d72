"""Issue 2's device check: the real HF backend path on a full-size blip2-opt-2.7b architecture.

Builds Blip2ForConditionalGeneration from blip2-opt-2.7b's dimensions (ViT-g/14 at 224 px,
BERT-base Q-Former with 32 queries, OPT-2.7B) with random weights (no download possible),
saves it with save_pretrained, loads it back through HfBlip2Backend (from_pretrained, the
family's default dtype), then generates VQA answers with the paper's settings at batch sizes
1 and 32 and prints time per batch and peak CUDA memory. Figures only; nothing is asserted.

  python benchmarks/gpu_full_size.py [--out DIR] [--small]   # --small: tiny dims, CPU dry run
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image
from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2Processor, OPTConfig

from blip2_bench.backends._hf import HfBlip2Options as BackendConfig
from blip2_bench.backends.hf_blip2 import HfBlip2Backend
from blip2_bench.demo.tiny_models import build_tiny_blip2
from blip2_bench.types import GenerationRequest, GenerationSettings, ImageSource

# Salesforce/blip2-opt-2.7b's architecture (its config.json), vocabulary as OPT's.
FULL = {
    "vision": dict(
        hidden_size=1408,
        intermediate_size=6144,
        num_hidden_layers=39,
        num_attention_heads=16,
        image_size=224,
        patch_size=14,
    ),
    "qformer": dict(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        encoder_hidden_size=1408,
        cross_attention_frequency=2,
    ),
    "text": dict(
        hidden_size=2560,
        ffn_dim=10240,
        num_hidden_layers=32,
        num_attention_heads=32,
        vocab_size=50272,
        word_embed_proj_dim=2560,
        max_position_embeddings=2048,
    ),
    "queries": 32,
}
SMALL = {
    "vision": dict(
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, image_size=224, patch_size=14
    ),
    "qformer": dict(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        encoder_hidden_size=64,
        cross_attention_frequency=2,
    ),
    "text": dict(
        hidden_size=64,
        ffn_dim=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        vocab_size=1024,
        word_embed_proj_dim=64,
        max_position_embeddings=512,
    ),
    "queries": 32,
}


def build(out: Path, dims: dict) -> Path:
    # Tokenizer and image processor come from the offline tiny OPT model; ids fit any vocab.
    tiny = build_tiny_blip2(out / "tokenizer-source", "opt")
    processor = Blip2Processor.from_pretrained(tiny)
    tokenizer = processor.tokenizer
    config = Blip2Config(
        vision_config=dims["vision"],
        qformer_config=dims["qformer"],
        text_config=OPTConfig(
            **dims["text"], pad_token_id=tokenizer.pad_token_id, bos_token_id=2, eos_token_id=2
        ).to_dict(),
        num_query_tokens=dims["queries"],
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
    )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    started = time.perf_counter()
    with torch.device(device):
        model = Blip2ForConditionalGeneration(config)
    if device == "cuda":
        model.half()  # saved in fp16 like the released checkpoint; the backend picks its dtype
    model.save_pretrained(out / "model")
    Blip2Processor(processor.image_processor, tokenizer, num_query_tokens=dims["queries"]).save_pretrained(
        out / "model"
    )
    params = sum(p.numel() for p in model.parameters())
    print(f"built {params / 1e9:.2f}B parameters on {device} and saved in {time.perf_counter() - started:.0f} s")
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return out / "model"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp())
    folder = build(out, SMALL if args.small else FULL)
    settings = GenerationSettings(num_beams=5, max_new_tokens=10, min_new_tokens=1, length_penalty=-1.0)
    images = {f"i{k}": Image.new("RGB", (640, 480), (k * 7 % 255, 120, 200)) for k in range(32)}
    for batch_size in (1, 32):
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        backend = HfBlip2Backend(
            BackendConfig(name="full-opt-2.7b", model=str(folder), family="opt", image_size=224, batch_size=batch_size)
        )
        load_s = time.perf_counter() - started
        requests = [
            GenerationRequest(
                str(k), ImageSource(f"i{k}", path="unused"), f"Question: what is in picture {k}? Answer:", settings
            )
            for k in range(batch_size)
        ]
        backend.generate(requests, images)  # warm-up
        times = []
        for _ in range(3):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            t = time.perf_counter()
            outputs = backend.generate(requests, images)
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
        peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")
        prov = backend.provenance()
        print(
            f"batch {batch_size:>2}: load {load_s:.1f} s, {min(times):.3f} s/batch (best of 3), "
            f"peak CUDA {peak:.2f} GiB, dtypes {prov['component_dtypes']}, device {prov['device_name']}, "
            f"first output {outputs[0]!r}"
        )
        del backend
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
