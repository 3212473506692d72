"""Retrieval tasks: encode each image and text once, rank by ITC, re-rank top-k pairs by ITM.

LAVIS compute_sim_matrix, split into stages the runner owns: features in batches, the
similarity matrix in chunks (never images x queries x texts at once), then the unique
candidate pairs in ITM batches, journaled per batch so a crash loses at most one batch.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ..data.retrieval import RetrievalData
from ..distributed import all_gather, barrier, broadcast, collectively
from ..errors import BadInputError, BenchError
from ..images import load_rgb
from ..metrics.retrieval import assemble_reranked, candidate_pairs, itc_similarity, rerank_candidates
from ..provenance import short_hash
from ..task_api import RetrievalTask
from . import TaskOutcome
from .context import RunContext

log = logging.getLogger(__name__)


@dataclass
class PreparedRetrieval:
    task: RetrievalTask
    data: RetrievalData
    texts: list[str]


def _batches(n: int, size: int) -> list[range]:
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


class RetrievalDriver:
    def prepare(self, task: RetrievalTask, ctx: RunContext) -> PreparedRetrieval:
        if ctx.run.on_bad_image != "fail":
            raise BadInputError(
                f"task {task.name}: on_bad_image={ctx.run.on_bad_image} is not supported for "
                "retrieval (dropping an image changes every query's gallery)"
            )
        data = task.load(ctx.run.limit)
        if not data.images:
            raise BadInputError(f"task {task.name}: the selected split holds no images")
        for image_id, image in zip(data.image_ids, data.images, strict=True):
            if image.path is not None and not Path(image.path).is_file():
                raise BadInputError(f"task {task.name}: image not found: {image.path} (image {image_id})")
        return PreparedRetrieval(task, data, task.model_texts(data))

    def run(self, p: PreparedRetrieval, ctx: RunContext) -> TaskOutcome | None:
        """Each rank encodes every world-th image batch and re-ranks the pairs of its own images;
        every rank encodes all texts (cheap) and computes the same similarity matrix."""
        plan = p.task.plan()
        started = time.perf_counter()
        backend = ctx.get_backend()
        image_itc, my_images, my_vision = self._image_features(p, ctx, backend)
        text_itc, input_ids, attention = self._text_features(p, plan.text_batch_size, backend)
        sim = itc_similarity(image_itc, text_itc)
        computed = len(my_images) + len(p.texts)
        if plan.rerank:
            # Rank 0's candidates for everyone: a near-tie at the k-th place must not make ranks
            # disagree on which pairs exist (similarities can differ in the last bit across nodes).
            i2t_idx, t2i_idx = broadcast(rerank_candidates(sim, plan.k_test))
            pairs = candidate_pairs(i2t_idx, t2i_idx)
            itm, n_scored = self._itm_scores(
                p, pairs, plan.itm_batch_size, ctx, backend, (my_images, my_vision), input_ids, attention
            )
            computed += n_scored
        computed = sum(all_gather(computed))
        if not ctx.dist.is_main:
            return None
        if plan.rerank:
            scores_i2t, scores_t2i = assemble_reranked(sim, i2t_idx, t2i_idx, pairs, itm)
        else:
            scores_i2t = sim.numpy()
            scores_t2i = np.ascontiguousarray(scores_i2t.T)
        scored = p.task.score(p.data, scores_i2t, scores_t2i)
        ctx.run_dir.write_samples(p.task.name, scored.records)
        # Row identities travel with the matrices, so `score` can refuse another file's order.
        ctx.run_dir.write_arrays(
            f"{p.task.name}_scores.npz",
            i2t=scores_i2t,
            t2i=scores_t2i,
            image_ids=np.array(p.data.image_ids, dtype=str),
            captions_per_image=np.array([len(t) for t in p.data.img2txt]),
        )
        ids = [f"image:{i}" for i in p.data.image_ids] + [f"text:{t}" for t in range(len(p.texts))]
        extra = {"n_images": len(p.data.images), "n_texts": len(p.texts)}
        return TaskOutcome(scored, ids, len(ids), time.perf_counter() - started, computed, extra=extra)

    def _image_features(
        self, p: PreparedRetrieval, ctx: RunContext, backend: Any
    ) -> tuple[torch.Tensor, list[int], torch.Tensor]:
        """All images' ITC features (gathered from every rank), and this rank's images with
        their vision outputs (kept for ITM)."""
        rank, world = ctx.dist.rank, ctx.dist.world_size
        batches = [b for k, b in enumerate(_batches(len(p.data.images), ctx.batch_size)) if k % world == rank]
        mine: list[int] = [i for b in batches for i in b]
        itc, vision = [], []

        def encode_my_images() -> None:
            for batch in tqdm(batches, desc=f"{p.task.name} images", unit="batch"):
                images = [load_rgb(p.data.images[i], f"image {p.data.image_ids[i]}") for i in batch]
                batch_itc, batch_vision = backend.image_features(images)
                itc.append(batch_itc)
                # Host memory, not the GPU: ViT-g vision outputs for COCO 5k are ~9.5 GB in fp16.
                # Each ITM batch moves only its own rows to the device.
                vision.append(batch_vision.cpu())

        collectively(encode_my_images)
        my_itc = torch.cat(itc) if itc else torch.empty(0)
        full = None
        for indices, features in all_gather((mine, my_itc)):
            if len(indices):
                full = full if full is not None else torch.empty((len(p.data.images), *features.shape[1:]))
                full[indices] = features
        assert full is not None
        return full, mine, torch.cat(vision) if vision else torch.empty(0)

    def _text_features(
        self, p: PreparedRetrieval, batch_size: int, backend: Any
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        itc, ids, masks = [], [], []
        for batch in tqdm(_batches(len(p.texts), batch_size), desc=f"{p.task.name} texts", unit="batch"):
            batch_itc, tokens = backend.text_features([p.texts[i] for i in batch])
            itc.append(batch_itc)
            ids.append(tokens["input_ids"])
            masks.append(tokens["attention_mask"])
        # Batches are padded to their own longest text; pad all to one width (masked out).
        width = max(t.shape[1] for t in ids)
        pad = lambda t: torch.nn.functional.pad(t, (0, width - t.shape[1]))  # noqa: E731
        return torch.cat(itc), torch.cat([pad(t) for t in ids]), torch.cat([pad(t) for t in masks])

    def _itm_scores(
        self,
        p: PreparedRetrieval,
        pairs: torch.Tensor,
        batch_size: int,
        ctx: RunContext,
        backend: Any,
        vision: tuple[list[int], torch.Tensor],
        input_ids: torch.Tensor,
        attention: torch.Tensor,
    ) -> tuple[torch.Tensor, int]:
        """ITM scores of all pairs (on rank 0) and how many this rank computed.

        A rank scores the pairs of its own images, so it needs only their vision outputs.
        """
        my_images, my_vision = vision
        row_of = {image: row for row, image in enumerate(my_images)}
        positions = torch.tensor(
            [k for k, image in enumerate(pairs[:, 0].tolist()) if image in row_of], dtype=torch.long
        )
        journal_name = f"{p.task.name}.itm"
        rank = ctx.dist.rank
        # The pair plan comes from recomputed features; journaled scores count only for the same plan.
        plan_id = short_hash(
            [hashlib.sha256(pairs[positions].numpy().tobytes()).hexdigest(), batch_size, ctx.output_key(p.task)]
        )
        if ctx.dist.is_main:
            if ctx.fresh:
                ctx.run_dir.clear_journal(journal_name)
            ctx.run_dir.read_journal(journal_name, repair=True)  # cut torn lines before any rank appends
        barrier()
        journal = ctx.run_dir.read_journal(journal_name, lambda e: e.get("plan") == plan_id, repair=False)
        my_scores = torch.empty(len(positions), dtype=torch.float32)
        batches = _batches(len(positions), batch_size)
        computed = [0]

        def score_my_pairs() -> None:
            for b, batch in enumerate(tqdm(batches, desc=f"{p.task.name} ITM re-rank", unit="batch")):
                key = f"rank{rank}:batch{b}"
                if key in journal:
                    my_scores[batch.start : batch.stop] = torch.tensor(journal[key]["scores"], dtype=torch.float32)
                    continue
                chunk = pairs[positions[batch.start : batch.stop]]
                rows = torch.tensor([row_of[i] for i in chunk[:, 0].tolist()], dtype=torch.long)
                out = backend.itm_scores(my_vision[rows], input_ids[chunk[:, 1]], attention[chunk[:, 1]])
                my_scores[batch.start : batch.stop] = out
                computed[0] += len(out)
                entry = {"id": key, "plan": plan_id, "scores": out.tolist()}
                ctx.run_dir.append_journal(journal_name, [entry], rank=rank)

        collectively(score_my_pairs)
        scores = torch.full((len(pairs),), float("nan"), dtype=torch.float32)
        for where, values in all_gather((positions, my_scores)):
            scores[where] = values
        if torch.isnan(scores).any():  # every pair belongs to exactly one rank's images
            raise BenchError(f"{p.task.name}: {int(torch.isnan(scores).sum())} candidate pairs got no ITM score")
        return scores, computed[0]
