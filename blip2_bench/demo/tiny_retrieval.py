"""A tiny, randomly initialised `Blip2ForImageTextRetrieval` that loads offline.

Like the released Salesforce/blip2-itm-vit-g checkpoints it has a Q-Former with text
input (`use_qformer_text_input=True`), ITC projections and an ITM head, and a BERT-style
WordPiece tokenizer (lowercasing; [PAD]=0, [UNK], [CLS], [SEP], [MASK]; "[CLS] text [SEP]";
right padding) trained locally with the `tokenizers` library. `config.image_token_index`
is None, so HF's forward takes plain tokenizer ids (no <image> placeholders in front).
Weights depend only on `seed`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    Blip2Config,
    Blip2ForImageTextRetrieval,
    Blip2Processor,
    PreTrainedTokenizerFast,
)

from .tiny_models import _corpus_lines, tiny_image_processor, tiny_qformer_config, tiny_vision_config

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# Caption-style text (Flickr30K / COCO flavour) so fixture captions tokenize into words.
_CAPTIONS = """\
two young guys with shaggy hair look at their hands while hanging out in the yard
a child in a pink dress is climbing up a set of stairs in an entry way
a black dog and a spotted dog are fighting
a little girl covered in paint sits in front of a painted rainbow with her hands in a bowl
a man in an orange hat starring at something
a woman is walking across the street eating a banana while a man is following with his briefcase
several men in hard hats are operating a giant pulley system
people sitting on a bench by the water at sunset
a boy jumps into the pool while his friends watch
"""


def _bert_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=list(SPECIAL_TOKENS), show_progress=False)
    tok.train_from_iterator([*_corpus_lines(), *_CAPTIONS.splitlines()], trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        padding_side="right",
        model_max_length=512,
    )


def build_tiny_blip2_retrieval(
    out_dir: str | Path, seed: int = 0, image_size: int = 32, num_query_tokens: int = 4, embed_dim: int = 16
) -> Path:
    """Write a tiny random Blip2ForImageTextRetrieval and its processor to `out_dir`; return it.

    Loads with `Blip2ForImageTextRetrieval.from_pretrained` / `Blip2Processor.from_pretrained`
    with no network access.
    """
    if image_size % 8:
        raise ValueError(f"image_size must be a multiple of the patch size 8, got {image_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    image_processor = tiny_image_processor(image_size)
    # The processor adds an <image> token to the tokenizer; size the vocabulary after it.
    processor = Blip2Processor(image_processor=image_processor, tokenizer=_bert_tokenizer(), num_query_tokens=None)
    config = Blip2Config(
        vision_config=tiny_vision_config(image_size),
        qformer_config=tiny_qformer_config(
            vocab_size=len(processor.tokenizer),
            pad_token_id=0,
            use_qformer_text_input=True,  # text path: BERT-style embeddings and text FFNs
        ),
        num_query_tokens=num_query_tokens,
        image_text_hidden_size=embed_dim,
        architectures=["Blip2ForImageTextRetrieval"],
    )
    # fork_rng: seed the init without disturbing the caller's global RNG state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Blip2ForImageTextRetrieval(config)
        with torch.no_grad():
            model.query_tokens.normal_(0.0, 0.02)  # zero-initialised; random makes queries distinct
    model.eval()
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
