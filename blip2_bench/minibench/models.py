"""The three shipped pairings' architectures: configs, seeded random initialisation and saving with a processor."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    Blip2Config,
    Blip2ForConditionalGeneration,
    Blip2ForImageTextRetrieval,
    Blip2Processor,
    GenerationConfig,
    OPTConfig,
    PreTrainedTokenizerFast,
    T5Config,
)

from ..demo.tiny_models import IMAGE_TOKEN, tiny_image_processor
from .scenes import IMAGE_SIZE
from .tokenizers import bert_tokenizer, opt_tokenizer, t5_tokenizer

MODELS_DIR = Path(__file__).parent / "models"
"""Where the trained pairings ship (inside the package)."""


def model_path(name: str) -> str:
    """The shipped folder of pairing `name`, wherever the package is installed (for a config resolver)."""
    if name not in SPECS:
        raise KeyError(f"unknown minibench pairing {name!r}; known: {', '.join(SPECS)}")
    return str(MODELS_DIR / name)


@dataclass(frozen=True)
class Spec:
    """One pairing: its name (= conf/backend/<name>.yaml), family and sizes."""

    name: str
    family: str
    """opt | t5 | itm (the backend config's family)."""
    vision_hidden: int = 64
    vision_layers: int = 2
    patch_size: int = 8
    qformer_hidden: int = 64
    qformer_layers: int = 2
    num_query_tokens: int = 8
    lm_hidden: int = 0
    lm_layers: int = 0
    lm_ffn: int = 0
    embed_dim: int = 32
    """Retrieval only: the ITC embedding size."""
    image_size: int = IMAGE_SIZE
    fan_in_init: bool = False
    """Initialise every weight matrix N(0, 1/fan_in) instead of transformers' N(0, 0.02) (see `fan_in_init`)."""


SPECS: dict[str, Spec] = {
    # The larger generator: a 2-layer OPT decoder of width 128.
    "mini-opt": Spec("mini-opt", "opt", lm_hidden=128, lm_layers=2, lm_ffn=256),
    # The smaller one: a 2+2-layer Flan-T5-style encoder-decoder of width 64, and a narrower vision side.
    "mini-t5": Spec("mini-t5", "t5", vision_hidden=48, qformer_hidden=48, lm_hidden=64, lm_layers=2, lm_ffn=128),
    # Fan-in init: from N(0, 0.02) contrastive training sits for hundreds of steps on "background only".
    "mini-itm": Spec("mini-itm", "itm", fan_in_init=True),
}


def _vision(spec: Spec) -> dict[str, Any]:
    return {
        "image_size": spec.image_size,
        "patch_size": spec.patch_size,
        "hidden_size": spec.vision_hidden,
        "intermediate_size": 2 * spec.vision_hidden,
        "num_hidden_layers": spec.vision_layers,
        "num_attention_heads": 4,
        "initializer_range": 0.02,  # Blip2VisionConfig's default 1e-10 starts the encoder at zero
    }


def _qformer(spec: Spec, vocab_size: int, **extra: Any) -> dict[str, Any]:
    return {
        "hidden_size": spec.qformer_hidden,
        "num_hidden_layers": spec.qformer_layers,
        "num_attention_heads": 4,
        "intermediate_size": 2 * spec.qformer_hidden,
        "cross_attention_frequency": 1,
        "encoder_hidden_size": spec.vision_hidden,
        "max_position_embeddings": 64,  # LAVIS truncates retrieval text at 35 tokens
        "vocab_size": vocab_size,
        **extra,
    }


def _text(spec: Spec, vocab_size: int) -> OPTConfig | T5Config:
    if spec.family == "opt":
        return OPTConfig(
            vocab_size=vocab_size,
            hidden_size=spec.lm_hidden,
            num_hidden_layers=spec.lm_layers,
            ffn_dim=spec.lm_ffn,
            num_attention_heads=4,
            max_position_embeddings=128,
            word_embed_proj_dim=spec.lm_hidden,
            dropout=0.0,
            attention_dropout=0.0,
            pad_token_id=1,
            bos_token_id=2,
            eos_token_id=2,
        )
    return T5Config(
        vocab_size=vocab_size,
        d_model=spec.lm_hidden,
        d_kv=spec.lm_hidden // 4,
        d_ff=spec.lm_ffn,
        num_layers=spec.lm_layers,
        num_decoder_layers=spec.lm_layers,
        num_heads=4,
        relative_attention_num_buckets=16,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        dropout_rate=0.0,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )


def tokenizer_for(spec: Spec) -> PreTrainedTokenizerFast:
    return {"opt": opt_tokenizer, "t5": t5_tokenizer, "itm": bert_tokenizer}[spec.family]()


def build(spec: Spec, seed: int) -> tuple[torch.nn.Module, Blip2Processor]:
    """A randomly initialised model (weights depend only on `seed`) and its processor."""
    image_processor = tiny_image_processor(spec.image_size)
    tokenizer = tokenizer_for(spec)
    if spec.family == "itm":
        # The processor adds an <image> token to a tokenizer without one; size the vocabulary after it.
        processor = Blip2Processor(image_processor=image_processor, tokenizer=tokenizer, num_query_tokens=None)
        config = Blip2Config(
            vision_config=_vision(spec),
            qformer_config=_qformer(spec, len(processor.tokenizer), pad_token_id=0, use_qformer_text_input=True),
            num_query_tokens=spec.num_query_tokens,
            image_text_hidden_size=spec.embed_dim,
            architectures=["Blip2ForImageTextRetrieval"],
        )
        model_cls: type = Blip2ForImageTextRetrieval
    else:
        processor = Blip2Processor(
            image_processor=image_processor, tokenizer=tokenizer, num_query_tokens=spec.num_query_tokens
        )
        image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        config = Blip2Config(
            vision_config=_vision(spec),
            qformer_config=_qformer(spec, vocab_size=8),
            text_config=_text(spec, len(tokenizer)).to_dict(),
            num_query_tokens=spec.num_query_tokens,
            image_text_hidden_size=spec.qformer_hidden,
            image_token_index=image_token_id,
        )
        model_cls = Blip2ForConditionalGeneration
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(config)
        with torch.no_grad():
            model.query_tokens.normal_(0.0, 0.02)  # zero-initialised by HF; random makes the queries distinct
        if spec.fan_in_init:
            fan_in_init(model)
    if spec.family != "itm":
        model.generation_config = generation_config(spec.family, config.image_token_index)
    return model, processor


def fan_in_init(model: torch.nn.Module) -> None:
    """Re-draw, from the current torch RNG, every Linear, Conv2d and Embedding weight N(0, 1/fan_in) (biases 0,
    padding rows 0), and the ViT's position/class embeddings and the query tokens N(0, 1/width).

    transformers' std 0.02 is BERT's for width 768; at width 64 each linear layer shrinks its input about 6x,
    so at init every attention is uniform, the Q-Former's residual branches are nearly zero, and its outputs
    hardly depend on the image or the words: the [CLS] text embedding ignores the caption and the query
    embeddings see only the mean colour. ITC then learns the background (3 values; InfoNCE over 64 images
    stalls near ln(64/3)) and stays there for hundreds of steps. With unit-gain layers it learns the objects
    within about 200 steps.
    """
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.Embedding)):
                weight = module.weight
                fan_in = weight.shape[1] if isinstance(module, torch.nn.Embedding) else weight[0].numel()
                weight.normal_(0.0, fan_in**-0.5)
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()
                if isinstance(module, torch.nn.Embedding) and module.padding_idx is not None:
                    weight[module.padding_idx].zero_()
        width = model.config.vision_config.hidden_size
        embeddings = model.vision_model.embeddings
        embeddings.position_embedding.normal_(0.0, width**-0.5)
        embeddings.class_embedding.normal_(0.0, width**-0.5)
        model.query_tokens.normal_(0.0, model.config.qformer_config.hidden_size**-0.5)


def generation_config(family: str, image_token_id: int) -> GenerationConfig:
    """Never emit padding, <unk>, <s> or <image> (the harness passes its own beams and lengths)."""
    if family == "opt":
        return GenerationConfig(
            bos_token_id=2, eos_token_id=2, pad_token_id=1, suppress_tokens=[0, 1, 3, image_token_id]
        )
    return GenerationConfig(
        decoder_start_token_id=0, eos_token_id=1, pad_token_id=0, suppress_tokens=[0, 2, image_token_id]
    )


def save(model: torch.nn.Module, processor: Blip2Processor, out_dir: Path) -> Path:
    """save_pretrained (safetensors) of the model and its processor into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


def spec_record(spec: Spec) -> dict[str, Any]:
    return asdict(spec)


def n_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
