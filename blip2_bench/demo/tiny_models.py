"""Tiny, randomly initialised BLIP-2 checkpoints that load and generate offline.

`build_tiny_blip2` writes a real `Blip2ForConditionalGeneration` (OPT or Flan-T5 style
language model) plus a matching `Blip2Processor` to a folder, so the harness can be
exercised end to end without the Hugging Face hub. The tokenizer is trained locally
with the `tokenizers` library on a small built-in VQA/caption corpus and follows the
special-token conventions of the real checkpoints:

* OPT: byte-level BPE, ``<s>``=0, ``<pad>``=1, ``</s>``=2, ``<unk>``=3; ``</s>`` is
  prepended as BOS (as OPT's tokenizer does) and is also EOS; ``"\\n"`` is one token
  (``"Ċ"``); padding on the left.
* T5: SentencePiece-style BPE (Metaspace ``▁``), ``<pad>``=0, ``</s>``=1, ``<unk>``=2;
  ``</s>`` is appended; ``decoder_start_token_id`` = pad = 0; padding on the right.

In both, ``<image>`` is the last id of the vocabulary, a special (never split) token,
and ``config.image_token_id`` points at it. Weights depend only on ``seed``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    Blip2Config,
    Blip2ForConditionalGeneration,
    Blip2Processor,
    BlipImageProcessorPil,
    GenerationConfig,
    OPTConfig,
    PreTrainedTokenizerFast,
    T5Config,
)

FAMILIES = ("opt", "t5")
IMAGE_TOKEN = "<image>"
# The CLIP statistics every BLIP-2 checkpoint ships in its preprocessor config.
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
HIDDEN = 32

# Small English corpus: the prompt templates used by BLIP-2/LAVIS, VQA questions and
# answers, captions. Every printable ASCII character appears so the T5 model
# never needs <unk> for ordinary text (the byte-level OPT model never does).
_CORPUS = """\
Question: what color is the bus? Answer: red
Question: how many people are in the picture? Short answer: 2
Question: is the man wearing a hat? Answer: yes
Question: is this a kitchen? Short answer: no
a photo of a dog sitting on a couch.
a photo of two cats sleeping on a bed.
a man riding a skateboard down the street.
a woman holding an umbrella in the rain.
a plate of food with broccoli and rice.
a red double decker bus parked on the side of the road.
a group of people standing around a table with a cake.
a train traveling down the tracks next to a forest.
a giraffe standing in a field of tall grass.
a bathroom with a white toilet and a sink.
What is the man holding? What are the people doing? Where is the cat?
Which animal is this? Who is on the bench? Why is the street wet?
How many zebras are there? How many birds? What time of day is it?
What sport is being played? What room is this? What is on the plate?
Is it raining? Are the lights on? Does the dog have a collar? Can you see the sky?
Is there a clock? Are there any clouds? Is this in the city? Is the TV on?
yes no maybe 0 1 2 3 4 5 6 7 8 9 10 11 12 20 100 one two three four five six
red blue green yellow white black brown orange pink purple gray grey silver
tennis baseball frisbee soccer surfing skiing pizza sandwich banana apple
left right top bottom inside outside table chair window door car truck
kitchen living room bedroom beach park street snow water grass sky tree
"Stop" sign (on the left); it's 3:45 - the boy's kite! A/B 50% @home #1 $5
& * + = < > [ ] { } | ~ ^ _ ` \\ , . ? ! ; :
ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz
"""


def _corpus_lines() -> list[str]:
    return _CORPUS.splitlines()


def _opt_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE tokenizer with OPT's ids (GPT-2 style pre-tokenization)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # "\n" -> "Ċ", one token
        show_progress=False,
    )
    # Feed the newline-joined corpus too so merges around "\n" exist, as in GPT-2.
    tok.train_from_iterator([*_corpus_lines(), _CORPUS], trainer)
    bos = tok.token_to_id("</s>")
    tok.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            # OPT prepends </s> (id 2) as BOS and adds nothing at the end.
            processors.TemplateProcessing(single="</s> $A", pair="</s> $A </s> $B:1", special_tokens=[("</s>", bos)]),
        ]
    )
    tok.add_special_tokens([AddedToken(IMAGE_TOKEN, normalized=False, special=True)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="</s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        padding_side="left",  # decoder-only batched generation needs left padding
        model_max_length=512,
    )


def _t5_tokenizer() -> PreTrainedTokenizerFast:
    """SentencePiece-style tokenizer ("▁" word boundaries) with T5's special-token ids."""
    # BPE rather than unigram: the unigram trainer yields a near character-level vocab
    # on a corpus this small, which makes prompts needlessly long.
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    # Like T5's SentencePiece normaliser: any whitespace run (newlines too) -> one space.
    tok.normalizer = normalizers.Sequence([normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=["<pad>", "</s>", "<unk>"], show_progress=False)
    tok.train_from_iterator(_corpus_lines(), trainer)
    eos = tok.token_to_id("</s>")
    # T5 appends </s> to every sequence and never adds a BOS.
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B:1 </s>:1", special_tokens=[("</s>", eos)]
    )
    tok.add_special_tokens([AddedToken(IMAGE_TOKEN, normalized=False, special=True)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        padding_side="right",
        model_max_length=512,
    )


def _text_config(family: str, vocab_size: int) -> OPTConfig | T5Config:
    if family == "opt":
        return OPTConfig(
            vocab_size=vocab_size,
            hidden_size=HIDDEN,
            num_hidden_layers=2,
            ffn_dim=64,
            num_attention_heads=2,
            max_position_embeddings=128,
            word_embed_proj_dim=HIDDEN,
            pad_token_id=1,
            bos_token_id=2,
            eos_token_id=2,
        )
    # Flan-T5 flavour (gated-gelu, untied head), as used by blip2-flan-t5-*.
    return T5Config(
        vocab_size=vocab_size,
        d_model=HIDDEN,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=2,
        relative_attention_num_buckets=8,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )


def _generation_config(family: str, image_token_id: int) -> GenerationConfig:
    # Random weights would happily emit <pad>, <unk> or <image> mid-answer, which trained
    # checkpoints never do; suppressing them keeps decoded demo answers well-formed.
    if family == "opt":
        return GenerationConfig(
            bos_token_id=2, eos_token_id=2, pad_token_id=1, suppress_tokens=[0, 1, 3, image_token_id]
        )
    return GenerationConfig(
        decoder_start_token_id=0, eos_token_id=1, pad_token_id=0, suppress_tokens=[0, 2, image_token_id]
    )


def tiny_image_processor(image_size: int) -> BlipImageProcessorPil:
    """S x S PIL bicubic, CLIP mean/std, as the released checkpoints' processors.

    The PIL backend needs no torchvision; it still saves image_processor_type
    "BlipImageProcessor", so either backend loads the folder.
    """
    return BlipImageProcessorPil(
        size={"height": image_size, "width": image_size},
        resample=3,
        image_mean=CLIP_MEAN,
        image_std=CLIP_STD,
        do_convert_rgb=True,
    )


def tiny_vision_config(image_size: int) -> dict[str, Any]:
    """A 2-layer ViT with 8 px patches (shared by the tiny generation and retrieval models)."""
    return {
        "image_size": image_size,
        "patch_size": 8,
        "hidden_size": HIDDEN,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "initializer_range": 0.02,  # the default 1e-10 would make images irrelevant
    }


def tiny_qformer_config(vocab_size: int, **extra: Any) -> dict[str, Any]:
    """A 2-layer Q-Former cross-attending every layer; 64 positions cover LAVIS's 35 text tokens."""
    return {
        "hidden_size": HIDDEN,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "cross_attention_frequency": 1,
        "encoder_hidden_size": HIDDEN,
        "max_position_embeddings": 64,
        "vocab_size": vocab_size,
        **extra,
    }


def build_tiny_blip2(
    out_dir: str | Path,
    family: str,
    seed: int = 0,
    image_size: int = 32,
    num_query_tokens: int = 4,
) -> Path:
    """Write a tiny random BLIP-2 model and its processor to ``out_dir``; return the path.

    ``family`` is ``"opt"`` (decoder-only LM) or ``"t5"`` (encoder-decoder LM). The
    folder loads with ``Blip2ForConditionalGeneration.from_pretrained`` and
    ``Blip2Processor.from_pretrained`` with no network access.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if image_size % 8:
        raise ValueError(f"image_size must be a multiple of the patch size 8, got {image_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = _opt_tokenizer() if family == "opt" else _t5_tokenizer()
    image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    config = Blip2Config(
        vision_config=tiny_vision_config(image_size),
        qformer_config=tiny_qformer_config(vocab_size=64),
        text_config=_text_config(family, len(tokenizer)).to_dict(),
        num_query_tokens=num_query_tokens,
        image_text_hidden_size=HIDDEN,
        # generate() finds the query-token slots through this id (alias image_token_id).
        image_token_index=image_token_id,
    )

    # fork_rng: seed the init without disturbing the caller's global RNG state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Blip2ForConditionalGeneration(config)
        # Query tokens are zero-initialised; random ones make the queries distinct.
        with torch.no_grad():
            model.query_tokens.normal_(0.0, 0.02)
    model.generation_config = _generation_config(family, image_token_id)
    model.eval()
    model.save_pretrained(out)

    processor = Blip2Processor(
        image_processor=tiny_image_processor(image_size), tokenizer=tokenizer, num_query_tokens=num_query_tokens
    )
    processor.save_pretrained(out)
    return out
