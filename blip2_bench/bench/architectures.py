"""Models `bench` can build offline with random weights: the tiny demo ones, or a released
checkpoint's full architecture (its config.json dimensions; no download possible here).

Weights are random, so the generated length is pinned (min_new_tokens = max_new_tokens): the work
per question is then the real model's, whatever the tokens say.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

VIT_G = dict(hidden_size=1408, intermediate_size=6144, num_hidden_layers=39, num_attention_heads=16, patch_size=14)
QFORMER = dict(
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    encoder_hidden_size=1408,
    cross_attention_frequency=2,
)
FULL: dict[str, dict[str, Any]] = {
    # Salesforce/blip2-opt-2.7b: ViT-g/14 at 224 px, BERT-base Q-Former with 32 queries, OPT-2.7B.
    "blip2-opt-2.7b": {
        "family": "opt",
        "text": dict(
            hidden_size=2560,
            ffn_dim=10240,
            num_hidden_layers=32,
            num_attention_heads=32,
            word_embed_proj_dim=2560,
            max_position_embeddings=2048,
        ),
    },
    # Salesforce/blip2-flan-t5-xl: the same vision side, Flan-T5-XL (24+24 layers, d_model 2048).
    "blip2-flan-t5-xl": {
        "family": "t5",
        "text": dict(d_model=2048, d_ff=5120, d_kv=64, num_layers=24, num_decoder_layers=24, num_heads=32),
    },
}
TINY = ("tiny-opt", "tiny-t5")
ARCHITECTURES = (*TINY, *FULL)


def family_of(arch: str) -> str:
    return arch.removeprefix("tiny-") if arch in TINY else str(FULL[arch]["family"])


def image_size_of(arch: str) -> int:
    return 32 if arch in TINY else 224


def build_random(arch: str, out: Path, device: str) -> Path:
    """A checkpoint folder (save_pretrained layout) that the HF backend loads with from_pretrained."""
    from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2Processor, OPTConfig, T5Config

    from ..demo.tiny_models import build_tiny_blip2

    family = family_of(arch)
    tiny = build_tiny_blip2(out / f"tiny-{family}", family)
    if arch in TINY:
        return tiny
    # The tiny model's tokenizer and image processor (ids fit any vocabulary; prompts tokenize to
    # about one token per word, as BPE does on plain English); the image processor at 224 px.
    processor = Blip2Processor.from_pretrained(tiny)
    processor.image_processor.size = {"height": 224, "width": 224}
    tokenizer = processor.tokenizer
    dims = FULL[arch]["text"]
    if family == "opt":
        text = OPTConfig(**dims, vocab_size=50272, pad_token_id=tokenizer.pad_token_id, bos_token_id=2, eos_token_id=2)
    else:
        text = T5Config(**dims, vocab_size=32128, pad_token_id=tokenizer.pad_token_id, decoder_start_token_id=0)
    config = Blip2Config(
        vision_config={**VIT_G, "image_size": 224},
        qformer_config=QFORMER,
        text_config=text.to_dict(),
        num_query_tokens=32,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
    )
    started = time.perf_counter()
    with torch.device(device):
        model = Blip2ForConditionalGeneration(config)
    if device == "cuda":
        model.half()  # saved in half precision like the released checkpoints; the backend picks its dtype
    folder = out / arch
    model.save_pretrained(folder)
    Blip2Processor(processor.image_processor, tokenizer, num_query_tokens=32).save_pretrained(folder)
    params = sum(p.numel() for p in model.parameters())
    seconds = time.perf_counter() - started
    print(f"built {arch}: {params / 1e9:.2f}B random parameters on {device}, saved in {seconds:.0f} s")
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return folder
