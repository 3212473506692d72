"""Retrieval tasks: embed each image and text once, rank by ITC, re-rank top-k pairs by ITM.

LAVIS compute_sim_matrix as three stages on the shared skeleton: image embeddings (each
rank its share of image batches), text embeddings (every rank, cheap), and ITM matching of
the unique candidate pairs, journaled per batch so a crash loses at most one batch. The
similarity matrix is computed in chunks (never images x queries x texts at once).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.retrieval import RetrievalData
from ..distributed import all_gather, broadcast
from ..errors import BadInputError, BenchError
from ..images import load_rgb
from ..metrics.retrieval import assemble_reranked, candidate_pairs, itc_similarity, rerank_candidates
from ..provenance import image_content_hashes, short_hash
from ..task_api import RetrievalTask
from ..types import ImageSource
from .context import RunContext
from .outcome import TaskOutcome
from .plan import chunks, my_share
from .prefetch import ImagePrefetcher
from .stage import run_journaled_stage, run_my_batches

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GalleryImage:
    """One gallery image as the prefetcher reads it (`sample_id` labels its errors)."""

    image: ImageSource
    sample_id: str


@dataclass
class PreparedRetrieval:
    task: RetrievalTask
    data: RetrievalData
    texts: list[str]
    image_hashes: list[str | None]

    @property
    def plan_digest(self) -> str:
        """What the outputs were asked for: the gallery's image contents and the model's texts."""
        return short_hash([list(zip(self.data.image_ids, self.image_hashes, strict=True)), self.texts])


class RetrievalExecutor:
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
        hashes = image_content_hashes(data.images)
        return PreparedRetrieval(task, data, task.model_texts(data), [hashes[i.key] for i in data.images])

    def run(self, p: PreparedRetrieval, ctx: RunContext) -> TaskOutcome | None:
        """Each rank embeds every world-th image batch and matches the pairs of its own images;
        every rank embeds all texts and computes the same similarity matrix."""
        plan = p.task.plan()
        backend = ctx.backend()
        image_itc, my_images, my_states = self._embed_images(p, ctx, backend)
        text_itc = self._embed_texts(p, plan.text_batch_size, ctx, backend)
        sim = itc_similarity(image_itc, text_itc)
        computed = sum(all_gather(len(my_images) + len(p.texts)))
        if plan.rerank:
            # Rank 0's candidates for everyone: a near-tie at the k-th place must not make ranks
            # disagree on which pairs exist (similarities can differ in the last bit across nodes).
            i2t_idx, t2i_idx = broadcast(rerank_candidates(sim, plan.k_test))
            pairs = candidate_pairs(i2t_idx, t2i_idx)
            itm, n_matched = self._match(p, pairs, plan.itm_batch_size, ctx, backend, my_images, my_states)
            computed += n_matched  # already summed over ranks
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
        extra = {
            "n_images": len(p.data.images),
            "n_texts": len(p.texts),
            "files": [f"exports/{p.task.name}_scores.npz"],
        }
        return TaskOutcome(scored, ids, len(ids), computed, extra=extra)

    def _embed_images(
        self, p: PreparedRetrieval, ctx: RunContext, backend: Any
    ) -> tuple[torch.Tensor, list[int], torch.Tensor]:
        """All images' ITC embeddings (gathered from every rank), and this rank's images with
        their match state (kept in host memory for ITM)."""
        batches = chunks(len(p.data.images), ctx.batch_size)
        mine_batches = my_share(len(batches), ctx.dist)
        mine: list[int] = [i for k in mine_batches for i in batches[k]]
        itc, states = [], []

        gallery = [[GalleryImage(p.data.images[i], f"image {p.data.image_ids[i]}") for i in b] for b in batches]

        def embed(k: int) -> None:
            decoding = prefetcher.images(k)
            images = [
                decoding[g.image.key].result() if g.image.key in decoding else load_rgb(g.image, g.sample_id)
                for g in gallery[k]
            ]
            out = backend.embed_images(images)
            itc.append(out.itc)
            states.append(out.state)

        # The next batches' images decode in threads while the model embeds this one (same bits).
        with ImagePrefetcher(gallery, mine_batches, ctx.run.image_workers) as prefetcher:
            run_my_batches(ctx, f"{p.task.name} images", mine_batches, embed)
        my_itc = torch.cat(itc) if itc else torch.empty(0)
        full = None
        for indices, features in all_gather((mine, my_itc)):
            if len(indices):
                full = full if full is not None else torch.empty((len(p.data.images), *features.shape[1:]))
                full[indices] = features
        assert full is not None
        return full, mine, torch.cat(states) if states else torch.empty(0)

    def _embed_texts(self, p: PreparedRetrieval, batch_size: int, ctx: RunContext, backend: Any) -> torch.Tensor:
        batches = chunks(len(p.texts), batch_size)
        out: list[torch.Tensor] = []

        def embed(k: int) -> None:
            out.append(backend.embed_texts([p.texts[i] for i in batches[k]]))

        # Every rank embeds every text (cheap next to images), so no gather is needed.
        run_my_batches(ctx, f"{p.task.name} texts", range(len(batches)), embed)
        return torch.cat(out)

    def _match(
        self,
        p: PreparedRetrieval,
        pairs: torch.Tensor,
        batch_size: int,
        ctx: RunContext,
        backend: Any,
        my_images: list[int],
        my_states: torch.Tensor,
    ) -> tuple[torch.Tensor, int]:
        """ITM scores of all pairs (complete on rank 0) and how many were computed.

        A rank matches the pairs of its own images, so it needs only their match state.
        """
        world = ctx.dist.world_size
        owner_of_image = {}
        for rank, images in enumerate(all_gather(my_images)):
            owner_of_image.update({i: rank for i in images})
        # Per rank, its pairs in plan order cut into batches; one global list of (owner, positions).
        per_rank: list[list[int]] = [[] for _ in range(world)]
        for position, image in enumerate(pairs[:, 0].tolist()):
            per_rank[owner_of_image[image]].append(position)
        batches = [
            (rank, positions[c.start : c.stop])
            for rank, positions in enumerate(per_rank)
            for c in chunks(len(positions), batch_size)
        ]
        keys = [
            short_hash([(p.image_hashes[int(pairs[q, 0])], p.texts[int(pairs[q, 1])]) for q in positions])
            for _, positions in batches
        ]
        row_of = {image: row for row, image in enumerate(my_images)}

        def match(k: int) -> list[float]:
            chunk = pairs[torch.tensor(batches[k][1], dtype=torch.long)]
            rows = torch.tensor([row_of[i] for i in chunk[:, 0].tolist()], dtype=torch.long)
            return backend.match(my_states[rows], [p.texts[t] for t in chunk[:, 1].tolist()]).tolist()

        stage = run_journaled_stage(
            ctx,
            f"{p.task.name}.itm",
            ctx.stage_key(p.task.name, "itm"),
            keys,
            match,
            lambda k, entry: len(entry["outputs"]) == len(batches[k][1]),
            f"{p.task.name} ITM re-rank",
            owners=[owner for owner, _ in batches],
        )
        scores = torch.full((len(pairs),), float("nan"), dtype=torch.float32)
        if ctx.dist.is_main:
            for (_, positions), key in zip(batches, keys, strict=True):
                if key in stage.entries:
                    scores[torch.tensor(positions, dtype=torch.long)] = torch.tensor(
                        stage.entries[key]["outputs"], dtype=torch.float32
                    )
            if torch.isnan(scores).any():  # every pair belongs to exactly one batch
                raise BenchError(f"{p.task.name}: {int(torch.isnan(scores).sum())} candidate pairs got no ITM score")
        return scores, stage.computed
