"""Differentiable forward passes that compute exactly what the harness's backends compute at evaluation.

Generation: blip2_bench/backends/hf_blip2.py (get_image_features().pooler_output scattered into the
<image> slots of the LM input embeddings). Retrieval: backends/hf_blip2_retrieval.py (ITC query and
[CLS] embeddings, ITM positive logit averaged over the query positions).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import Blip2ForConditionalGeneration, Blip2ForImageTextRetrieval


def generator_logits(
    model: Blip2ForConditionalGeneration, pixels: torch.Tensor, batch: dict[str, torch.Tensor], family: str
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """OPT: LM logits of every position. T5: the seq2seq loss and logits against batch["labels"]."""
    features = model.get_image_features(pixel_values=pixels).pooler_output[batch["image_index"]]
    input_ids = batch["input_ids"]
    embeds = model.get_input_embeddings()(input_ids)
    mask = (input_ids == model.config.image_token_id).unsqueeze(-1)
    embeds = embeds.masked_scatter(mask, features.to(embeds.dtype))
    if family == "opt":
        return model.language_model(inputs_embeds=embeds, attention_mask=batch["attention_mask"]).logits
    out = model.language_model(inputs_embeds=embeds, attention_mask=batch["attention_mask"], labels=batch["labels"])
    return out.loss, out.logits


def _qformer(
    model: Blip2ForImageTextRetrieval,
    embeds: torch.Tensor,
    vision: torch.Tensor | None,
    mask: torch.Tensor | None = None,
    query_length: int | None = None,
) -> torch.Tensor:
    kwargs = {}
    if vision is not None:
        ones = torch.ones(vision.shape[:-1], dtype=torch.long, device=vision.device)
        kwargs = {"encoder_hidden_states": vision, "encoder_attention_mask": ones}
    else:
        query_length = 0  # text only: no query tokens in the sequence
    out = model.qformer(query_embeds=embeds, query_length=query_length, attention_mask=mask, **kwargs)
    return out.last_hidden_state


def image_features(model: Blip2ForImageTextRetrieval, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(normalised ITC query embeddings (n, Q, D), vision encoder outputs (n, P, H) for ITM)."""
    vision = model.vision_model(pixel_values=pixels).last_hidden_state
    queries = _qformer(model, model.query_tokens.expand(vision.shape[0], -1, -1), vision)
    return F.normalize(model.vision_projection(queries), dim=-1), vision


def text_features(
    model: Blip2ForImageTextRetrieval, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """Normalised ITC embeddings of the [CLS] position (n, D)."""
    hidden = _qformer(model, model.embeddings(input_ids=input_ids), None, attention_mask)
    return F.normalize(model.text_projection(hidden[:, 0, :]), dim=-1)


def itm_logits(
    model: Blip2ForImageTextRetrieval, vision: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """ITM head logits (n, 2) of aligned (image, text) pairs, averaged over the query positions (LAVIS)."""
    query_tokens = model.query_tokens.expand(len(input_ids), -1, -1)
    n_query = query_tokens.shape[1]
    embeddings = model.embeddings(input_ids=input_ids, query_embeds=query_tokens)
    query_mask = torch.ones((len(input_ids), n_query), dtype=attention_mask.dtype, device=input_ids.device)
    hidden = _qformer(model, embeddings, vision, torch.cat([query_mask, attention_mask], dim=1), query_length=n_query)
    return model.itm_head(hidden[:, :n_query, :]).mean(dim=1)
