"""Image-text retrieval: ITC similarity, ITM re-ranking candidates, and LAVIS's recall metrics.

The protocol is LAVIS's (lavis/models/blip2_models/blip2.py `compute_sim_matrix`,
lavis/tasks/retrieval.py `_report_metrics`):

* ITC similarity of image i and text t = max over the image's query embeddings of
  query . text-CLS (both L2-normalised; no temperature).
* For each image its top k texts, and for each text its top k images (k_test = 128),
  are re-scored: score = ITM positive-class logit + ITC similarity; every other entry
  of the score matrices is -100. Both matrices are float32, as LAVIS's `torch.full`.
* TR@k: an image is a hit when any of its captions ranks in its top k; IR@k: a text is
  a hit when its one image ranks in its top k. `agg_metrics` is the mean of TR@1/5/10.

Ties, everywhere (candidate selection and ranking): equal scores rank lower index
first. LAVIS leaves ties to `torch.topk` and `np.argsort(score)[::-1]`, whose order among
equal scores is unspecified (numpy's default quicksort is not stable, and where it is
stable the reversal puts the *higher* index first), so any fixed rule is a choice; ours
is stated, deterministic and device-independent. Results equal LAVIS's whenever the
scores that decide R@1/5/10 are not tied.

Memory: nothing larger than images x texts is ever held; see `itc_similarity`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

NOT_CANDIDATE = -100.0
"""Score of every pair outside the re-ranked candidates (LAVIS's `torch.full(..., -100.0)`)."""
RECALL_AT = (1, 5, 10)
# Elements per temporary block (float32: 64 MiB) in the chunked loops below.
_BLOCK_ELEMENTS = 1 << 24


def itc_similarity(
    image_feats: torch.Tensor,
    text_feats: torch.Tensor,
    chunk_size: int = 1024,
    max_chunk_elements: int = _BLOCK_ELEMENTS,
) -> torch.Tensor:
    """(n_img, n_txt) float32: max over queries of query . text, for normalised features.

    `image_feats` is (n_img, Q, D), `text_feats` (n_txt, D). Computed in blocks of at most
    `chunk_size` images and as many texts as keep a block's (images x Q x texts)
    intermediate under `max_chunk_elements`, so peak memory is the output plus one block
    (the naive images x Q x texts tensor for COCO 5k x 25k would be ~16 GB). Runs on the
    inputs' device.
    """
    import torch  # lazy: scoring a file needs numpy only

    if image_feats.ndim != 3 or text_feats.ndim != 2 or image_feats.shape[2] != text_feats.shape[1]:
        raise ValueError(
            f"expected image features (n_img, Q, D) and text features (n_txt, D), "
            f"got {tuple(image_feats.shape)} and {tuple(text_feats.shape)}"
        )
    n_img, n_query, dim = image_feats.shape
    n_txt = text_feats.shape[0]
    text_t = text_feats.to(image_feats.device, torch.float32).T
    img_chunk = max(1, min(chunk_size, max_chunk_elements // max(1, n_query)))
    txt_chunk = max(1, min(n_txt, max_chunk_elements // (img_chunk * n_query)))
    out = torch.empty((n_img, n_txt), dtype=torch.float32, device=image_feats.device)
    for i0 in range(0, n_img, img_chunk):
        queries = image_feats[i0 : i0 + img_chunk].to(torch.float32)
        flat = queries.reshape(-1, dim)
        for t0 in range(0, n_txt, txt_chunk):
            block = flat @ text_t[:, t0 : t0 + txt_chunk]  # (images*Q, texts)
            out[i0 : i0 + len(queries), t0 : t0 + block.shape[1]] = block.view(len(queries), n_query, -1).amax(dim=1)
    return out


def _stable_topk(rows: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of each row's k largest values, ordered by value then lower index first.

    `torch.topk` picks an arbitrary subset of values tied at the k-th place; rows where
    that matters (more tied values than slots left) are redone with a stable full sort.
    """
    import torch  # lazy: scoring a file needs numpy only

    values, idx = torch.topk(rows, k, dim=1)
    kth = values[:, -1:]
    ambiguous = (rows >= kth).sum(dim=1, dtype=torch.int32) > k  # more values tie at the k-th place than fit
    if bool(ambiguous.any()):
        # A stable descending sort keeps equal values in index order (lower index first).
        idx[ambiguous] = torch.sort(rows[ambiguous], dim=1, descending=True, stable=True).indices[:, :k]
    idx = idx.sort(dim=1).values
    order = torch.sort(rows.gather(1, idx), dim=1, descending=True, stable=True).indices
    return idx.gather(1, order)


def _topk_rows(matrix: torch.Tensor, k: int) -> torch.Tensor:
    import torch  # lazy: scoring a file needs numpy only

    n_rows, n_cols = matrix.shape
    step = max(1, _BLOCK_ELEMENTS // 4 // max(1, n_cols))
    parts = [_stable_topk(matrix[r0 : r0 + step].contiguous(), k) for r0 in range(0, n_rows, step)]
    return torch.cat(parts) if parts else torch.empty((0, k), dtype=torch.long)


def rerank_candidates(sim: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image's top-k texts (n_img, k) and each text's top-k images (n_txt, k) by ITC.

    k is clipped to the axis length (LAVIS would fail instead). Rows are ordered by
    similarity, ties lower index first (see `_stable_topk`); indices are int64 on CPU.
    """
    import torch  # lazy: scoring a file needs numpy only

    if sim.ndim != 2:
        raise ValueError(f"similarity matrix must be 2-D, got shape {tuple(sim.shape)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    sim = sim.detach().cpu()
    if bool(torch.isnan(sim).any()):
        raise ValueError("similarity matrix holds NaN")
    n_img, n_txt = sim.shape
    # sim.T is a view: each block of its rows is copied only while it is being sorted.
    return _topk_rows(sim, min(k, n_txt)), _topk_rows(sim.T, min(k, n_img))


def candidate_pairs(i2t_idx: torch.Tensor, t2i_idx: torch.Tensor) -> torch.Tensor:
    """Unique (image, text) pairs of both candidate lists, (P, 2) int64 sorted by image then text.

    A pair that is a candidate in both directions is listed (and ITM-scored) once; the
    sort groups each image's pairs, so a batch of consecutive pairs shares few images.
    """
    import torch  # lazy: scoring a file needs numpy only

    n_img, n_txt = i2t_idx.shape[0], t2i_idx.shape[0]
    i2t_idx, t2i_idx = i2t_idx.cpu().long(), t2i_idx.cpu().long()
    codes_i2t = torch.arange(n_img).repeat_interleave(i2t_idx.shape[1]) * n_txt + i2t_idx.reshape(-1)
    codes_t2i = t2i_idx.reshape(-1) * n_txt + torch.arange(n_txt).repeat_interleave(t2i_idx.shape[1])
    codes = torch.unique(torch.cat([codes_i2t, codes_t2i]), sorted=True)
    return torch.stack([codes // n_txt, codes % n_txt], dim=1)


def assemble_reranked(
    sim: torch.Tensor, i2t_idx: torch.Tensor, t2i_idx: torch.Tensor, pairs: torch.Tensor, itm_scores: torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """LAVIS's re-ranked score matrices: i2t (n_img, n_txt) and t2i (n_txt, n_img), float32.

    Entry = ITM logit of the pair (`itm_scores[p]` for `pairs[p]`) + ITC similarity where the
    pair is a candidate of that row's query, -100 elsewhere; each matrix is filled only from
    its own direction's candidates, as in `compute_sim_matrix`.
    """
    import torch  # lazy: scoring a file needs numpy only

    sim = sim.detach().cpu().to(torch.float32)
    n_img, n_txt = sim.shape
    if i2t_idx.shape[0] != n_img or t2i_idx.shape[0] != n_txt:
        raise ValueError(f"candidate lists {tuple(i2t_idx.shape)}, {tuple(t2i_idx.shape)} do not fit sim {sim.shape}")
    pairs, itm = pairs.cpu().long(), itm_scores.detach().cpu().to(torch.float32).reshape(-1)
    if len(itm) != len(pairs):
        raise ValueError(f"{len(itm)} ITM scores for {len(pairs)} pairs")
    codes = pairs[:, 0] * n_txt + pairs[:, 1]
    if len(codes) > 1 and not bool((codes[1:] > codes[:-1]).all()):
        raise ValueError("pairs must be unique and sorted (as candidate_pairs returns them)")

    def pair_scores(images: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
        wanted = images * n_txt + texts
        pos = torch.searchsorted(codes, wanted).clamp(max=max(len(codes) - 1, 0))
        if len(codes) == 0 or not bool((codes[pos] == wanted).all()):
            raise ValueError("a candidate pair has no ITM score")
        return itm[pos] + sim[images, texts]  # LAVIS: score + topk_sim, both float32

    i2t_idx, t2i_idx = i2t_idx.cpu().long(), t2i_idx.cpu().long()
    rows_i = torch.arange(n_img).unsqueeze(1).expand_as(i2t_idx)
    score_i2t = torch.full((n_img, n_txt), NOT_CANDIDATE, dtype=torch.float32)
    score_i2t[rows_i, i2t_idx] = pair_scores(rows_i, i2t_idx)
    rows_t = torch.arange(n_txt).unsqueeze(1).expand_as(t2i_idx)
    score_t2i = torch.full((n_txt, n_img), NOT_CANDIDATE, dtype=torch.float32)
    score_t2i[rows_t, t2i_idx] = pair_scores(t2i_idx, rows_t)
    return score_i2t.numpy(), score_t2i.numpy()


# --- metrics ---------------------------------------------------------------------------------


def check_retrieval_inputs(
    scores_i2t: np.ndarray, scores_t2i: np.ndarray, txt2img: Sequence[int], img2txt: Sequence[Sequence[int]]
) -> None:
    """ValueError unless shapes fit the annotations, scores are numbers, and the maps agree."""
    n_img, n_txt = len(img2txt), len(txt2img)
    for name, matrix, shape in (("i2t", scores_i2t, (n_img, n_txt)), ("t2i", scores_t2i, (n_txt, n_img))):
        if matrix.shape != shape:
            raise ValueError(
                f"{name} scores have shape {matrix.shape}, expected {shape} for {n_img} images, {n_txt} texts"
            )
        if not np.issubdtype(matrix.dtype, np.number) or np.iscomplexobj(matrix):
            raise ValueError(f"{name} scores have dtype {matrix.dtype}, expected real numbers")
        if np.issubdtype(matrix.dtype, np.floating) and np.isnan(matrix).any():
            bad = np.argwhere(np.isnan(matrix))[0]
            raise ValueError(f"{name} scores hold NaN (first at row {bad[0]}, column {bad[1]})")
    owner = np.asarray(txt2img, dtype=np.int64).reshape(-1)
    if n_txt and (owner.min() < 0 or owner.max() >= n_img):
        raise ValueError(
            f"a text refers to image {int(owner.max() if owner.max() >= n_img else owner.min())}, "
            f"which does not exist ({n_img} images)"
        )
    listed = np.full(n_txt, -1, dtype=np.int64)
    for i, texts in enumerate(img2txt):
        if len(texts) == 0:
            raise ValueError(f"image {i} has no captions")
        for t in texts:
            if not 0 <= t < n_txt or listed[t] != -1:
                raise ValueError(f"image {i} lists text {t}, which is out of range or listed twice")
            listed[t] = i
    if not np.array_equal(listed, owner):
        t = int(np.flatnonzero(listed != owner)[0])
        raise ValueError(f"txt2img and img2txt disagree on text {t}")


def _target_ranks(scores: np.ndarray, rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based rank of column targets[j] within row rows[j]; ties: lower index first.

    rank = #(scores > s) + #(scores == s at a lower index), i.e. the position in a stable
    sort by descending score. Rows are gathered in blocks to bound memory.
    """
    n_cols = scores.shape[1]
    cols = np.arange(n_cols)
    ranks = np.empty(len(rows), dtype=np.int64)
    step = max(1, _BLOCK_ELEMENTS // 4 // max(1, n_cols))
    for s in range(0, len(rows), step):
        block = scores[rows[s : s + step]]
        tgt = targets[s : s + step]
        own = block[np.arange(len(block)), tgt][:, None]
        ranks[s : s + step] = (block > own).sum(axis=1) + ((block == own) & (cols < tgt[:, None])).sum(axis=1)
    return ranks


def query_ranks(
    scores_i2t: np.ndarray, scores_t2i: np.ndarray, txt2img: Sequence[int], img2txt: Sequence[Sequence[int]]
) -> tuple[list[int], list[int]]:
    """0-based ranks: per image, the best rank of any of its captions; per text, its image's rank."""
    scores_i2t, scores_t2i = np.asarray(scores_i2t), np.asarray(scores_t2i)
    check_retrieval_inputs(scores_i2t, scores_t2i, txt2img, img2txt)
    owner = np.asarray(txt2img, dtype=np.int64)
    text_ids = np.arange(len(owner))
    caption_ranks = _target_ranks(scores_i2t, owner, text_ids)  # each caption in its image's row
    image_ranks = [int(caption_ranks[list(texts)].min()) for texts in img2txt]
    text_ranks = _target_ranks(scores_t2i, text_ids, owner).tolist()
    return image_ranks, text_ranks


def recall_metrics(
    scores_i2t: np.ndarray, scores_t2i: np.ndarray, txt2img: Sequence[int], img2txt: Sequence[Sequence[int]]
) -> dict[str, float]:
    """LAVIS `_report_metrics`: same keys, percent, unrounded, same arithmetic order."""
    image_ranks, text_ranks = query_ranks(scores_i2t, scores_t2i, txt2img, img2txt)

    def recall(ranks: list[int], k: int) -> float:
        return 100.0 * sum(r < k for r in ranks) / len(ranks)

    tr1, tr5, tr10 = (recall(image_ranks, k) for k in RECALL_AT)
    ir1, ir5, ir10 = (recall(text_ranks, k) for k in RECALL_AT)
    tr_mean = (tr1 + tr5 + tr10) / 3
    ir_mean = (ir1 + ir5 + ir10) / 3
    return {
        "txt_r1": tr1,
        "txt_r5": tr5,
        "txt_r10": tr10,
        "txt_r_mean": tr_mean,
        "img_r1": ir1,
        "img_r5": ir5,
        "img_r10": ir10,
        "img_r_mean": ir_mean,
        "r_mean": (tr_mean + ir_mean) / 2,
        # LAVIS selects checkpoints on text retrieval only: agg_metrics = mean of TR@1/5/10.
        "agg_metrics": (tr1 + tr5 + tr10) / 3,
    }
