"""The minibench training losses on tiny tensors whose answer is known in closed form."""

from __future__ import annotations

import math

import pytest
import torch

from blip2_bench.minibench.losses import hard_negatives, itc_loss, itc_similarity, itm_loss, lm_loss


def test_lm_loss_counts_only_labelled_tokens_and_shifts_for_decoder_only() -> None:
    logits = torch.zeros(1, 3, 4)
    logits[0, 0, 2] = math.log(3.0)  # position 0 predicts token 2 with p = 3 / (3 + 3) = 1/2
    labels = torch.tensor([[-100, 2, -100]])
    assert lm_loss(logits, labels, shift=True).item() == pytest.approx(math.log(2.0))
    # Unshifted (seq2seq): position 1 is labelled; its logits are uniform over 4.
    assert lm_loss(logits, labels, shift=False).item() == pytest.approx(math.log(4.0))


def test_itc_similarity_is_the_max_over_queries() -> None:
    image = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[-1.0, 0.0], [0.0, -1.0]]])  # 2 images x 2 queries
    text = torch.tensor([[0.6, 0.8], [-0.6, -0.8]])
    sim = itc_similarity(image, text)
    assert torch.allclose(sim, torch.tensor([[0.8, -0.6], [-0.6, 0.8]]))


def test_itc_loss_known_value() -> None:
    # 2 x 2: diagonal 1, off-diagonal 0, temperature 1 -> each row: -log(e / (e + 1)).
    sim = torch.eye(2)
    expected = -math.log(math.e / (math.e + 1))
    assert itc_loss(sim, 1.0).item() == pytest.approx(expected)
    # Lower temperature sharpens the right answer.
    assert itc_loss(sim, 0.1).item() < itc_loss(sim, 1.0).item()
    # Two identical texts: targets split over both positives of a row.
    both = torch.ones(2, 2, dtype=torch.bool)
    assert itc_loss(torch.zeros(2, 2), 1.0, both).item() == pytest.approx(math.log(2.0))


def test_itc_loss_wrong_pairing_is_worse() -> None:
    sim = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # each image closest to the other's text
    assert itc_loss(sim, 0.1).item() > itc_loss(torch.eye(2), 0.1).item()


def test_itm_loss_known_value() -> None:
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)]])
    labels = torch.tensor([1, 1])
    # Row 0: log 2; row 1: -log(3/4).
    assert itm_loss(logits, labels).item() == pytest.approx((math.log(2.0) - math.log(0.75)) / 2)


def test_hard_negatives_never_pick_a_positive_and_prefer_hard_ones() -> None:
    sim = torch.tensor([[1.0, 0.9, -5.0], [0.9, 1.0, -5.0], [-5.0, -5.0, 1.0]])
    positives = torch.eye(3, dtype=torch.bool)
    picks = [hard_negatives(sim, positives, torch.Generator().manual_seed(s)) for s in range(50)]
    texts = torch.stack([p[0] for p in picks])
    images = torch.stack([p[1] for p in picks])
    assert not (texts == torch.arange(3)).any() and not (images == torch.arange(3)).any()
    assert (texts[:, 0] == 1).float().mean() > 0.9  # the confusable text, not the easy one
    a = hard_negatives(sim, positives, torch.Generator().manual_seed(7))
    b = hard_negatives(sim, positives, torch.Generator().manual_seed(7))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
