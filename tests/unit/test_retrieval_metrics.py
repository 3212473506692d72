"""Retrieval metrics and ranking: brute-force references, LAVIS's _report_metrics, chunking, ties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from blip2_bench.metrics.retrieval import (
    NOT_CANDIDATE,
    assemble_reranked,
    candidate_pairs,
    check_retrieval_inputs,
    itc_similarity,
    query_ranks,
    recall_metrics,
    rerank_candidates,
)

KEYS = ["txt_r1", "txt_r5", "txt_r10", "txt_r_mean", "img_r1", "img_r5", "img_r10", "img_r_mean", "r_mean"]


def _layout(captions_per_image: list[int]) -> tuple[list[int], list[list[int]]]:
    txt2img, img2txt = [], []
    for image, n in enumerate(captions_per_image):
        img2txt.append(list(range(len(txt2img), len(txt2img) + n)))
        txt2img += [image] * n
    return txt2img, img2txt


def _brute_rank(row: np.ndarray, target: int) -> int:
    """Position of `target` when the row is ordered by descending score, lower index first on ties."""
    order = sorted(range(len(row)), key=lambda j: (-float(row[j]), j))
    return order.index(target)


def _lavis_report_metrics(scores_i2t, scores_t2i, txt2img, img2txt) -> dict[str, float]:
    """An independent re-statement of LAVIS lavis/tasks/retrieval.py `_report_metrics`."""
    ranks = np.zeros(scores_i2t.shape[0])
    for index, score in enumerate(scores_i2t):
        inds = np.argsort(score)[::-1]
        ranks[index] = min(np.where(inds == t)[0][0] for t in img2txt[index])
    tr = [100.0 * len(np.where(ranks < k)[0]) / len(ranks) for k in (1, 5, 10)]
    ranks = np.zeros(scores_t2i.shape[0])
    for index, score in enumerate(scores_t2i):
        inds = np.argsort(score)[::-1]
        ranks[index] = np.where(inds == txt2img[index])[0][0]
    ir = [100.0 * len(np.where(ranks < k)[0]) / len(ranks) for k in (1, 5, 10)]
    tr_mean, ir_mean = sum(tr) / 3, sum(ir) / 3
    out = dict(zip(["txt_r1", "txt_r5", "txt_r10"], tr, strict=True))
    out |= {"txt_r_mean": tr_mean, **dict(zip(["img_r1", "img_r5", "img_r10"], ir, strict=True))}
    out |= {"img_r_mean": ir_mean, "r_mean": (tr_mean + ir_mean) / 2, "agg_metrics": (tr[0] + tr[1] + tr[2]) / 3}
    return out


def _random_layout(rng: np.random.Generator, n_img: int) -> tuple[list[int], list[list[int]]]:
    return _layout([int(c) for c in rng.integers(1, 8, size=n_img)])


# ---------------------------------------------------------------- ranks and recall


@pytest.mark.parametrize("seed", range(6))
def test_ranks_and_recall_match_a_brute_force_loop_with_ties_and_variable_captions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_img = int(rng.integers(3, 25))
    txt2img, img2txt = _random_layout(rng, n_img)
    n_txt = len(txt2img)
    # Few distinct values: many ties, also at the ground-truth scores.
    i2t = rng.integers(0, 4, size=(n_img, n_txt)).astype(np.float32)
    t2i = rng.integers(0, 3, size=(n_txt, n_img)).astype(np.float64)
    image_ranks, text_ranks = query_ranks(i2t, t2i, txt2img, img2txt)
    assert image_ranks == [min(_brute_rank(i2t[i], t) for t in img2txt[i]) for i in range(n_img)]
    assert text_ranks == [_brute_rank(t2i[t], txt2img[t]) for t in range(n_txt)]
    metrics = recall_metrics(i2t, t2i, txt2img, img2txt)
    for k in (1, 5, 10):
        assert metrics[f"txt_r{k}"] == 100.0 * sum(r < k for r in image_ranks) / n_img
        assert metrics[f"img_r{k}"] == 100.0 * sum(r < k for r in text_ranks) / n_txt
    assert metrics["agg_metrics"] == pytest.approx((metrics["txt_r1"] + metrics["txt_r5"] + metrics["txt_r10"]) / 3)


def test_ties_rank_the_lower_index_first() -> None:
    txt2img, img2txt = _layout([2, 1])  # image 0: texts 0, 1; image 1: text 2
    i2t = np.array([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]], dtype=np.float32)
    t2i = np.zeros((3, 2), dtype=np.float32)
    image_ranks, text_ranks = query_ranks(i2t, t2i, txt2img, img2txt)
    assert image_ranks == [0, 2]  # image 1's only caption is behind texts 0 and 1
    assert text_ranks == [0, 0, 1]  # image 0 ranks ahead of image 1 in every (all-equal) row


@pytest.mark.parametrize("seed", range(5))
def test_recall_equals_lavis_report_metrics_on_untied_scores(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n_img = int(rng.integers(2, 40))
    txt2img, img2txt = _random_layout(rng, n_img)
    i2t = rng.standard_normal((n_img, len(txt2img))).astype(np.float32)
    t2i = rng.standard_normal((len(txt2img), n_img)).astype(np.float32)
    assert recall_metrics(i2t, t2i, txt2img, img2txt) == _lavis_report_metrics(i2t, t2i, txt2img, img2txt)


@pytest.mark.parametrize("seed", range(5))
def test_recall_equals_lavis_report_metrics_on_reranked_matrices(seed: int) -> None:
    # Re-ranked matrices are mostly -100: LAVIS's order among those ties is unspecified,
    # but with >= 10 candidates per row they never decide R@1/5/10, so results must agree.
    rng = np.random.default_rng(200 + seed)
    n_img = int(rng.integers(12, 30))
    txt2img, img2txt = _random_layout(rng, n_img)
    sim = torch.from_numpy(rng.standard_normal((n_img, len(txt2img))).astype(np.float32))
    i2t_idx, t2i_idx = rerank_candidates(sim, k=int(rng.integers(10, 13)))
    pairs = candidate_pairs(i2t_idx, t2i_idx)
    score_i2t, score_t2i = assemble_reranked(sim, i2t_idx, t2i_idx, pairs, torch.randn(len(pairs)) * 3)
    assert (score_i2t == NOT_CANDIDATE).any() and (score_t2i == NOT_CANDIDATE).any()
    ours = recall_metrics(score_i2t, score_t2i, txt2img, img2txt)
    assert ours == _lavis_report_metrics(score_i2t, score_t2i, txt2img, img2txt)
    assert list(ours) == [*KEYS, "agg_metrics"]


def _lavis_image_rank(scores: np.ndarray, captions: list[int]) -> int:
    # lavis/tasks/retrieval.py _report_metrics: inds = np.argsort(score)[::-1], best caption rank.
    inds = np.argsort(scores)[::-1]
    return min(int(np.where(inds == c)[0][0]) for c in captions)


def test_ties_rank_lower_index_first_and_untied_scores_rank_as_lavis() -> None:
    # Two images, three texts all tied for image 0: its caption (text 1) is ranked after text 0,
    # which has the lower index; image 1's caption (text 2) after texts 0 and 1.
    tied = np.ones((2, 3))
    t2i = np.zeros((3, 2))
    assert list(query_ranks(tied, t2i, [1, 0, 1], [[1], [0, 2]])[0]) == [1, 0]
    assert list(query_ranks(tied, t2i, [0, 1, 1], [[0], [1, 2]])[0]) == [0, 1]
    # A stable argsort reversed (one LAVIS reading) puts the higher index first: not our rule.
    assert list(np.argsort(tied[0], kind="stable")[::-1]) == [2, 1, 0]
    # Without ties both give the same ranks.
    rng = np.random.default_rng(0)
    txt2img, img2txt = _layout([2, 3, 1, 2])
    i2t = rng.permutation(4 * 8).reshape(4, 8).astype(np.float32)  # distinct values: no ties
    t2i = np.ascontiguousarray(i2t.T)
    ours = query_ranks(i2t, t2i, txt2img, img2txt)[0]
    assert list(ours) == [_lavis_image_rank(i2t[i], img2txt[i]) for i in range(4)]


# ---------------------------------------------------------------- input checks


@pytest.mark.parametrize(
    "case, message",
    [
        ("shape", "shape"),
        ("nan", "NaN"),
        ("no_captions", "no captions"),
        ("missing_image", "does not exist"),
        ("disagree", "disagree"),
    ],
)
def test_bad_inputs_are_refused(case: str, message: str) -> None:
    txt2img, img2txt = _layout([2, 3])
    i2t, t2i = np.zeros((2, 5), np.float32), np.zeros((5, 2), np.float32)
    if case == "shape":
        i2t = np.zeros((2, 4), np.float32)
    elif case == "nan":
        t2i[3, 1] = np.nan
    elif case == "no_captions":
        img2txt = [*img2txt, []]
        i2t, t2i = np.zeros((3, 5), np.float32), np.zeros((5, 3), np.float32)
    elif case == "missing_image":
        txt2img = [0, 0, 1, 1, 7]
    elif case == "disagree":
        img2txt = [[0, 2], [1, 3, 4]]
    with pytest.raises(ValueError, match=message):
        check_retrieval_inputs(i2t, t2i, txt2img, img2txt)
    with pytest.raises(ValueError, match=message):
        recall_metrics(i2t, t2i, txt2img, img2txt)


def test_nan_similarity_is_refused_before_ranking() -> None:
    sim = torch.zeros(3, 4)
    sim[1, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        rerank_candidates(sim, 2)


# ---------------------------------------------------------------- similarity and candidates


def _normalized(*shape: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(*shape, generator=gen), dim=-1)


def test_chunked_similarity_equals_unchunked_scores_and_ranks() -> None:
    images, texts = _normalized(37, 8, 24, seed=1), _normalized(211, 24, seed=2)
    dense = torch.einsum("iqd,td->iqt", images, texts).amax(dim=1)
    for chunk, max_elements in ((1024, 1 << 24), (5, 8 * 50), (1, 8), (16, 10_000)):
        sim = itc_similarity(images, texts, chunk_size=chunk, max_chunk_elements=max_elements)
        assert sim.dtype == torch.float32 and sim.shape == (37, 211)
        assert float((sim - dense).abs().max()) <= 1e-6
        for a, b in zip(rerank_candidates(sim, 20), rerank_candidates(dense, 20), strict=True):
            assert torch.equal(a, b)
        assert torch.equal(
            torch.sort(sim, dim=1, descending=True, stable=True).indices,
            torch.sort(dense, dim=1, descending=True, stable=True).indices,
        )


def test_similarity_is_max_over_queries_of_cosine() -> None:
    images, texts = _normalized(3, 4, 8, seed=3), _normalized(5, 8, seed=4)
    sim = itc_similarity(images, texts)
    for i in range(3):
        for t in range(5):
            assert float(sim[i, t]) == pytest.approx(max(float(q @ texts[t]) for q in images[i]), abs=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_candidates_are_the_stable_topk_both_ways(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    sim = torch.randint(0, 5, (9, 23), generator=gen).float()  # heavy ties at the k-th place
    k = 6
    i2t, t2i = rerank_candidates(sim, k)
    for i in range(9):
        assert i2t[i].tolist() == sorted(range(23), key=lambda t: (-float(sim[i, t]), t))[:k]
    for t in range(23):
        assert t2i[t].tolist() == sorted(range(9), key=lambda i: (-float(sim[i, t]), i))[:k]
    # k larger than an axis is clipped to it.
    i2t, t2i = rerank_candidates(sim, 15)
    assert i2t.shape == (9, 15) and t2i.shape == (23, 9)


def test_candidate_pairs_are_unique_sorted_and_complete() -> None:
    sim = _normalized(6, 11, seed=5)
    i2t, t2i = rerank_candidates(sim, 4)
    pairs = candidate_pairs(i2t, t2i)
    expected = {(i, int(t)) for i in range(6) for t in i2t[i]} | {(int(i), t) for t in range(11) for i in t2i[t]}
    assert [tuple(p) for p in pairs.tolist()] == sorted(expected)


def test_assembled_scores_equal_a_dense_lavis_style_loop() -> None:
    sim = _normalized(7, 13, seed=6)
    itm_dense = torch.randn(7, 13, generator=torch.Generator().manual_seed(7))
    k = 4
    i2t, t2i = rerank_candidates(sim, k)
    pairs = candidate_pairs(i2t, t2i)
    score_i2t, score_t2i = assemble_reranked(sim, i2t, t2i, pairs, itm_dense[pairs[:, 0], pairs[:, 1]])
    # Straight from compute_sim_matrix: full of -100, each row's candidates get itm + sim.
    ref_i2t = torch.full((7, 13), -100.0)
    for i in range(7):
        ref_i2t[i, i2t[i]] = itm_dense[i, i2t[i]] + sim[i, i2t[i]]
    ref_t2i = torch.full((13, 7), -100.0)
    for t in range(13):
        ref_t2i[t, t2i[t]] = itm_dense[t2i[t], t] + sim[t2i[t], t]
    assert score_i2t.dtype == np.float32 and score_t2i.dtype == np.float32
    np.testing.assert_array_equal(score_i2t, ref_i2t.numpy())
    np.testing.assert_array_equal(score_t2i, ref_t2i.numpy())


def test_assemble_refuses_missing_or_unsorted_pairs() -> None:
    sim = _normalized(3, 4, seed=8)
    i2t, t2i = rerank_candidates(sim, 2)
    pairs = candidate_pairs(i2t, t2i)
    with pytest.raises(ValueError, match="no ITM score"):
        assemble_reranked(sim, i2t, t2i, pairs[1:], torch.zeros(len(pairs) - 1))
    with pytest.raises(ValueError, match="sorted"):
        assemble_reranked(sim, i2t, t2i, pairs.flip(0), torch.zeros(len(pairs)))
