"""Word-level tokenizers over the benchmark's vocabulary, with the special-token conventions of the real checkpoints.

Same conventions as blip2_bench/demo/tiny_models.py (OPT: <s>=0 <pad>=1 </s>=2 <unk>=3, </s> prepended
as BOS, "\\n" one token, left padding; T5: <pad>=0 </s>=1 <unk>=2, </s> appended, right padding; both
with ``<image>`` as the last, special id) and tiny_retrieval.py (BERT: [PAD]=0 [UNK] [CLS] [SEP] [MASK],
lowercasing, "[CLS] text [SEP]"), but one token per word: the benchmark's language is closed, so
prompts and answers stay a few tokens long and training is fast.
"""

from __future__ import annotations

from tokenizers import AddedToken, Regex, Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from ..demo.tiny_models import IMAGE_TOKEN
from .vocab import all_words

PUNCTUATION = ("?", ":", ".", ",", "'", "!")
"""Question marks and colons reach the model (blip_question keeps "?"; the prompts end in ":")."""
_BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    # Drop spaces and tabs; keep "\n" and each punctuation mark as tokens of their own.
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"[ \t]+"), behavior="removed"),
            pre_tokenizers.Split(Regex(r"\n|[^\w\s]"), behavior="isolated"),
        ]
    )


def _vocab(specials: tuple[str, ...], words: list[str]) -> dict[str, int]:
    tokens = list(dict.fromkeys([*specials, *words, *PUNCTUATION]))
    return {t: i for i, t in enumerate(tokens)}


def opt_tokenizer() -> PreTrainedTokenizerFast:
    """OPT ids and layout: "</s> words", newline a token (the harness stops OPT there), left padding."""
    vocab = _vocab(("<s>", "<pad>", "</s>", "<unk>"), [*all_words(), "\n"])
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = _pre_tokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="</s> $A", pair="</s> $A </s> $B:1", special_tokens=[("</s>", vocab["</s>"])]
    )
    tok.add_special_tokens([AddedToken(IMAGE_TOKEN, normalized=False, special=True)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="</s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        padding_side="left",
        model_max_length=128,
    )


def t5_tokenizer() -> PreTrainedTokenizerFast:
    """T5 ids and layout: "words </s>", whitespace runs (newlines too) collapsed, right padding."""
    vocab = _vocab(("<pad>", "</s>", "<unk>"), all_words())
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip()])
    tok.pre_tokenizer = _pre_tokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B:1 </s>:1", special_tokens=[("</s>", vocab["</s>"])]
    )
    tok.add_special_tokens([AddedToken(IMAGE_TOKEN, normalized=False, special=True)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        padding_side="right",
        model_max_length=128,
    )


def bert_tokenizer() -> PreTrainedTokenizerFast:
    """BERT ids and layout for the retrieval Q-Former: lowercase, "[CLS] words [SEP]", right padding."""
    vocab = _vocab(_BERT_SPECIALS, [w.lower() for w in all_words()])
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = _pre_tokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        padding_side="right",
        model_max_length=128,
    )
