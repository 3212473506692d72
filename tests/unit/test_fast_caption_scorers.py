"""The numpy BLEU, ROUGE-L and CIDEr-D against pycocoevalcap's own classes: the same bits.

Equality is exact (==), on corpus and per-image values, because the scorers promise the
official numbers to the last digit, not to a tolerance.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

from blip2_bench.metrics import captions
from blip2_bench.metrics.bleu_cider import bleu_scores, bleu_statistics, cider_d, ngram_table
from blip2_bench.metrics.rouge_l import rouge_l
from blip2_bench.metrics.word_ids import word_ids

_WORDS = ("a", "the", "dog", "dogs", "on", "of", "man", "red", "bus", "é", "über", "x", "a.")


def _tricky_cases() -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """PTB-tokenized shapes that catch off-by-one and ordering slips (ids deliberately unsorted)."""
    long_ref = " ".join(_WORDS[i % len(_WORDS)] for i in range(97))
    gts = {
        42: ["a dog on a dog on a dog", "a dog", "dog"],
        7: ["the man", "the man on the red bus"],
        1000: ["x"],
        3: ["a a a a a a", "a a"],
        15: ["über é x", "é é"],
        8: [long_ref, "a dog"],
        9: ["the  red   bus", "red bus on the street of the man", "a", "bus red", "the red bus"],
        11: ["dogs dogs", "a red bus"],
    }
    res = {
        42: ["a dog on a dog"],
        7: [""],  # empty candidate
        1000: ["x"],  # one word, exact
        3: ["a a a a a a a a a a"],  # repeats beyond every reference's count (clipping)
        15: ["é über"],
        8: [long_ref + " dog dog"],  # over 63 words: ROUGE-L's Python fallback
        9: ["  the red bus  "],  # odd whitespace
        11: ["cat sat"],  # no n-gram shared with any reference
    }
    return gts, res


def _random_cases(seed: int, n: int) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    rng = random.Random(seed)

    def caption(lo: int, hi: int) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(lo, hi)))

    ids = rng.sample(range(10 * n), n)
    gts = {i: [caption(1, 14) for _ in range(rng.randint(1, 6))] for i in ids}
    res = {i: [caption(0, 16) if rng.random() > 0.02 else caption(60, 80)] for i in ids}
    return gts, res


def _numpy_scores(gts, res):
    ids = list(gts)
    refs, candidates = [gts[i] for i in ids], [res[i][0] for i in ids]
    table = ngram_table(refs, candidates)
    return bleu_scores(bleu_statistics(table)), rouge_l(refs, candidates), cider_d(table), table


@pytest.mark.parametrize("case", ["tricky", "random-1", "random-2"])
def test_bleu_rouge_cider_are_pycocoevalcaps_bits(case):
    gts, res = _tricky_cases() if case == "tricky" else _random_cases(int(case[-1]), 300)
    (bleu, bleu_per_image), (rouge, rouge_per_image), (cider, cider_per_image), _ = _numpy_scores(gts, res)
    official_bleu, official_bleu_per_image = Bleu(4).compute_score(gts, res, verbose=0)
    official_rouge, official_rouge_per_image = Rouge().compute_score(gts, res)
    official_cider, official_cider_per_image = Cider().compute_score(gts, res)
    assert bleu == official_bleu and bleu_per_image == official_bleu_per_image
    assert rouge == official_rouge and list(rouge_per_image) == list(official_rouge_per_image)
    assert cider == official_cider and list(cider_per_image) == list(official_cider_per_image)


def test_bleu_statistics_are_the_bleu_scorers_counts():
    gts, res = _tricky_cases()
    _, _, _, table = _numpy_scores(gts, res)
    ours = [[float(x) for x in row] for row in bleu_statistics(table).tolist()]
    assert ours == captions.bleu_stats(gts, res, list(gts))
    # Clipping: image 3's candidate has ten "a" and its references at most six.
    assert ours[list(gts).index(3)][6] == 6.0


def test_one_image_and_image_order():
    gts, res = _tricky_cases()
    for i in gts:  # one image: CIDEr's idf is log(1) - log(df) = 0 for every n-gram
        _, _, (cider, per_image), _ = _numpy_scores({i: gts[i]}, {i: res[i]})
        assert cider == Cider().compute_score({i: gts[i]}, {i: res[i]})[0] == 0.0 and list(per_image) == [0.0]
    reversed_ids = list(reversed(list(gts)))
    gts_r, res_r = {i: gts[i] for i in reversed_ids}, {i: res[i] for i in reversed_ids}
    (_, bleu_per_image), _, (_, cider_per_image), _ = _numpy_scores(gts_r, res_r)
    assert bleu_per_image == Bleu(4).compute_score(gts_r, res_r, verbose=0)[1]
    assert list(cider_per_image) == list(Cider().compute_score(gts_r, res_r)[1])


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="no reference caption"):
        ngram_table([["a dog"], []], ["a", "b"])
    with pytest.raises(ValueError, match="2 reference lists for 1 candidates"):
        ngram_table([["a"], ["b"]], ["a"])
    with pytest.raises(ValueError, match="2 candidate captions"):
        captions.one_caption(["a", "b"])


@pytest.mark.java
def test_score_tokenized_is_the_same_with_either_scorer():
    gts, res = _random_cases(5, 60)
    ids = list(gts)
    fast = captions.score_tokenized(gts, res, ids, scorers="numpy")
    reference = captions.score_tokenized(gts, res, ids, scorers="pycocoevalcap")
    assert fast.scores == reference.scores and fast.per_image == reference.per_image
    assert fast.stats == reference.stats
    assert np.isfinite(list(fast.scores.values())).all() and fast.scores["CIDEr"] > 0
    with pytest.raises(captions.BadInputError, match="caption scorers must be one of"):
        captions.score_tokenized(gts, res, ids, scorers="fast")


@pytest.mark.parametrize("sep", [None, " "])
def test_word_ids_split_each_caption_as_str_split(sep):
    captions = ["a dog", "", "  two  spaces ", "a\u00a0nbsp\ttab", "dog", "\x00 marker a", " "]
    for chosen in (captions, captions[:1], captions[:3], []):  # with the marker: caption by caption
        ids, lengths, n_ids = word_ids(chosen, sep=sep)
        words = [c.split(sep) for c in chosen]
        assert lengths.tolist() == [len(w) for w in words]
        vocab: dict[str, int] = {}
        for w in (w for caption in words for w in caption):
            vocab.setdefault(w, len(vocab))
        # Ids are first-seen numbers of the words (the joining marker takes no id a word needs).
        assert len(set(ids.tolist())) == len(vocab) <= n_ids
        flat = [w for caption in words for w in caption]
        assert [flat[ids.tolist().index(i)] for i in ids.tolist()] == flat
