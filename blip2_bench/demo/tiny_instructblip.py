"""Tiny, randomly initialised InstructBLIP checkpoints (Vicuna or Flan-T5 style) that load offline.

`build_tiny_instructblip` writes a real `InstructBlipForConditionalGeneration` plus a matching
`InstructBlipProcessor` to a folder laid out as the released Salesforce/instructblip-* hub
snapshots are (config.json naming the architecture, generation_config.json, model.safetensors,
processor_config.json, the LLM tokenizer at the top, the Q-Former tokenizer in
`qformer_tokenizer/`). `write_hub_snapshot` copies such a folder into a Hugging Face cache
(`models--ORG--NAME/snapshots/<commit>/`, `refs/main`), so a hub id resolves offline too.
Tokenizers are trained locally with the `tokenizers` library and follow the special-token
conventions of the converted checkpoints (transformers' convert_instructblip_original_to_pytorch):

* Vicuna (LLaMA) LLM: SentencePiece-style BPE (Metaspace ``▁``), ``<unk>``=0, ``<s>``=1,
  ``</s>``=2; as the converted checkpoints, ``</s>`` is BOS (prepended), EOS and UNK, and
  ``[PAD]`` is added after the vocabulary; padding on the left.
* Flan-T5 LLM: the tiny BLIP-2 T5 tokenizer (``<pad>``=0, ``</s>``=1 appended, ``<unk>``=2).
* Q-Former: an uncased BERT-style WordPiece tokenizer (``[PAD]``=0, ``[UNK]``, ``[CLS]``,
  ``[SEP]``, ``[MASK]``; ``[CLS] text [SEP]``; right padding, left truncation) with ``[DEC]``
  added as BOS, as LAVIS's ``init_tokenizer`` and the converted checkpoints do.

``<image>`` is a special (never split) token at the end of the LLM vocabulary and
``config.image_token_index`` points at it: transformers' InstructBlipProcessor puts
``num_query_tokens`` of them in front of the (padded) prompt, and the model scatters the query
embeddings into those slots. Weights depend only on ``seed``.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    GenerationConfig,
    InstructBlipConfig,
    InstructBlipForConditionalGeneration,
    InstructBlipProcessor,
    LlamaConfig,
    PreTrainedTokenizerFast,
)

from .tiny_models import (
    _CORPUS,
    HIDDEN,
    IMAGE_TOKEN,
    _corpus_lines,
    _t5_tokenizer,
    _text_config,
    tiny_image_processor,
    tiny_qformer_config,
    tiny_vision_config,
)

FAMILIES = ("vicuna", "t5")
"""LLM of the tiny model; the backend config calls these families "opt" (decoder-only) and "t5"."""
QFORMER_TOKENIZER_DIR = "qformer_tokenizer"  # where InstructBlipProcessor.save_pretrained puts it
QFORMER_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# The instructions InstructBLIP is evaluated with (LAVIS lavis/projects/instructblip/*.yaml and the
# paper's templates), so they tokenize into words rather than characters.
_INSTRUCTIONS = """\
Question: what color is the bus? Short answer: red
Question: how many people are in the picture? Short Answer: 2
A short image caption. a man riding a skateboard down the street.
A short image description: a plate of food with broccoli and rice.
"""


def _lines() -> list[str]:
    return [*_corpus_lines(), *_INSTRUCTIONS.splitlines()]


def _vicuna_tokenizer() -> PreTrainedTokenizerFast:
    """LLaMA-style BPE with the converted InstructBLIP-Vicuna checkpoints' special tokens."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    # The newline-joined corpus too, so "\n" is in the alphabet (LLaMA reaches it by byte fallback).
    tok.train_from_iterator([*_lines(), _CORPUS], trainer)
    bos = tok.token_to_id("</s>")
    # The converted checkpoints set bos_token="</s>" (as LAVIS's blip2_vicuna_instruct does), so
    # every prompt starts with id 2; nothing is appended.
    tok.post_processor = processors.TemplateProcessing(
        single="</s> $A", pair="</s> $A </s> $B:1", special_tokens=[("</s>", bos)]
    )
    tok.add_special_tokens([AddedToken("[PAD]", normalized=False, special=True)])
    tok.add_special_tokens([AddedToken(IMAGE_TOKEN, normalized=False, special=True)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="</s>",
        eos_token="</s>",
        unk_token="</s>",
        pad_token="[PAD]",
        padding_side="left",
        truncation_side="left",
        model_max_length=2048,
    )


def _qformer_tokenizer() -> PreTrainedTokenizerFast:
    """Uncased BERT-style WordPiece, [DEC] added as BOS (LAVIS Blip2Base.init_tokenizer)."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=400, special_tokens=list(QFORMER_SPECIAL_TOKENS), show_progress=False
    )
    tok.train_from_iterator(_lines(), trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.add_special_tokens([AddedToken("[DEC]", normalized=False, special=True)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        bos_token="[DEC]",
        padding_side="right",
        truncation_side="left",  # LAVIS keeps the end of an over-long instruction
        model_max_length=512,
    )


def _vicuna_config(tokenizer: PreTrainedTokenizerFast) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=128,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )


def build_tiny_instructblip(
    out_dir: str | Path,
    family: str,
    seed: int = 0,
    image_size: int = 32,
    num_query_tokens: int = 4,
    qformer_positions: int = 128,
) -> Path:
    """Write a tiny random InstructBLIP model and its processor to ``out_dir``; return the path.

    ``family`` is ``"vicuna"`` (decoder-only LLaMA-style LLM) or ``"t5"`` (Flan-T5-style
    encoder-decoder). The ViT always has 4x4 patches, so any ``image_size`` divisible by 4 is
    cheap (224, as the released checkpoints, for hub-id tests). ``qformer_positions`` is the
    Q-Former's text length limit (512 in the released checkpoints; LAVIS keeps 128 tokens).
    The folder loads with ``InstructBlipForConditionalGeneration.from_pretrained`` and
    ``InstructBlipProcessor.from_pretrained`` with no network access.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if image_size % 4:
        raise ValueError(f"image_size must be a multiple of 4, got {image_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = _vicuna_tokenizer() if family == "vicuna" else _t5_tokenizer()
    qformer_tokenizer = _qformer_tokenizer()
    text_config = _vicuna_config(tokenizer) if family == "vicuna" else _text_config("t5", len(tokenizer))
    image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    config = InstructBlipConfig(
        vision_config={**tiny_vision_config(image_size), "patch_size": image_size // 4},
        qformer_config=tiny_qformer_config(len(qformer_tokenizer), max_position_embeddings=qformer_positions),
        text_config=text_config.to_dict(),
        num_query_tokens=num_query_tokens,
        image_token_index=image_token_id,
    )
    with torch.random.fork_rng(devices=[]):  # seed the init without touching the caller's RNG
        torch.manual_seed(seed)
        model = InstructBlipForConditionalGeneration(config)
        with torch.no_grad():
            # At the default init (std 0.02) a 32-wide model ignores its inputs: every image and
            # instruction gets the same answer, and no test comparing answers could fail. At
            # 2/sqrt(fan_in) answers depend on both.
            for param in model.parameters():
                if param.dim() == 2:
                    param.normal_(0.0, 2.0 * param.shape[-1] ** -0.5)
            model.query_tokens.normal_(0.0, 0.02)  # zero-initialised otherwise: all queries alike
    # What the released checkpoints' generation_config.json holds: the LLM's special ids.
    special = {"eos_token_id": text_config.eos_token_id, "pad_token_id": text_config.pad_token_id}
    if family == "vicuna":
        special["bos_token_id"] = text_config.bos_token_id
    else:
        special["decoder_start_token_id"] = text_config.decoder_start_token_id
    model.generation_config = GenerationConfig(**special)
    model.eval()
    model.save_pretrained(out)
    processor = InstructBlipProcessor(
        image_processor=tiny_image_processor(image_size),
        tokenizer=tokenizer,
        qformer_tokenizer=qformer_tokenizer,
        num_query_tokens=num_query_tokens,
    )
    processor.save_pretrained(out)
    return out


def write_hub_snapshot(cache_dir: str | Path, repo_id: str, folder: str | Path) -> Path:
    """Copy a checkpoint folder into a Hugging Face hub cache as `repo_id`'s main revision.

    With ``HF_HUB_CACHE=cache_dir`` and ``HF_HUB_OFFLINE=1``, ``from_pretrained(repo_id)`` then
    resolves to it without a network. The commit name is a hash of the files (stable per build).
    """
    src = Path(folder)
    files = sorted(p for p in src.rglob("*") if p.is_file())
    digest = hashlib.sha1()
    for path in files:
        digest.update(str(path.relative_to(src)).encode())
        digest.update(path.read_bytes())
    commit = digest.hexdigest()
    repo = Path(cache_dir) / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    if snapshot.exists():
        shutil.rmtree(snapshot)
    shutil.copytree(src, snapshot)
    # What an online download leaves behind for a file the hub does not have: the Q-Former
    # tokenizer's loader asks for a config.json in its subfolder, and offline it needs to know
    # that none exists.
    no_exist = repo / ".no_exist" / commit / QFORMER_TOKENIZER_DIR
    no_exist.mkdir(parents=True, exist_ok=True)
    (no_exist / "config.json").touch()
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit, encoding="utf-8")
    return snapshot


def main(argv: list[str] | None = None) -> int:
    """`python -m blip2_bench.demo.tiny_instructblip [DIR]`: tiny-instructblip-{t5,vicuna}/ under DIR
    (default .cache/demo, where conf/backend/tiny-instructblip-*.yaml look)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m blip2_bench.demo.tiny_instructblip", description=main.__doc__)
    parser.add_argument("root", type=Path, nargs="?", default=Path(".cache/demo"))
    args = parser.parse_args(argv)
    for family in FAMILIES:
        name = f"tiny-instructblip-{family}"
        print(f"{name}: {build_tiny_instructblip(args.root / name, family)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
