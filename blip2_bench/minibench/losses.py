"""The training losses: masked next-token cross-entropy, BLIP-2's image-text contrastive (ITC) and matching (ITM)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = -100


def lm_loss(logits: torch.Tensor, labels: torch.Tensor, shift: bool) -> torch.Tensor:
    """Mean cross-entropy over labelled tokens; `shift` for decoder-only models (token t predicts t+1)."""
    if shift:
        logits, labels = logits[:, :-1], labels[:, 1:]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=IGNORE)


def itc_similarity(image_embeds: torch.Tensor, text_embeds: torch.Tensor) -> torch.Tensor:
    """(n_images, n_texts): max over each image's query embeddings of query . text (LAVIS sim_i2t)."""
    return torch.einsum("iqd,td->itq", image_embeds, text_embeds).max(dim=-1).values


def itc_loss(
    sim: torch.Tensor, temperature: float | torch.Tensor, positives: torch.Tensor | None = None
) -> torch.Tensor:
    """Symmetric InfoNCE over a square similarity matrix whose diagonal holds the pairs.

    `positives` (n x n bool) marks other matching pairs (e.g. the same caption text twice): as in
    BLIP's soft targets, the target mass is spread uniformly over every positive of a row.
    """
    n = sim.shape[0]
    if positives is None:
        positives = torch.eye(n, dtype=torch.bool, device=sim.device)
    targets = positives.float() / positives.float().sum(dim=1, keepdim=True)
    logits = sim / temperature
    i2t = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    t_targets = positives.t().float() / positives.t().float().sum(dim=1, keepdim=True)
    t2i = -(t_targets * F.log_softmax(logits.t(), dim=1)).sum(dim=1).mean()
    return (i2t + t2i) / 2


def hard_negatives(
    sim: torch.Tensor, positives: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """BLIP-2's ITM negatives: for each image a text, for each text an image, drawn by softmax(sim)
    among non-positives (harder negatives likelier). Returns (text index per image, image index per text)."""
    with torch.no_grad():
        weights_i2t = F.softmax(sim.float(), dim=1).masked_fill(positives, 0.0) + 1e-8 * (~positives)
        weights_t2i = F.softmax(sim.float().t(), dim=1).masked_fill(positives.t(), 0.0) + 1e-8 * (~positives.t())
        text_for_image = torch.multinomial(weights_i2t, 1, generator=generator).squeeze(1)
        image_for_text = torch.multinomial(weights_t2i, 1, generator=generator).squeeze(1)
    return text_for_image, image_for_text


def itm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Two-way cross-entropy of the ITM head (logits (n, 2), already averaged over the queries)."""
    return F.cross_entropy(logits.float(), labels)
