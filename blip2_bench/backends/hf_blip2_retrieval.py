"""HF transformers Blip2ForImageTextRetrieval (Salesforce/blip2-itm-vit-g[-coco]) for image-text retrieval.

The three stages of LAVIS's compute_sim_matrix (lavis/models/blip2_models/blip2.py and
blip2_qformer.py forward_image / forward_text / compute_itm), as batch methods the
runner drives: image features, text features, and ITM scores of (image, text) pairs.
Each computes exactly what `Blip2ForImageTextRetrieval.forward` computes for the same
inputs (use_image_text_matching_head=False for ITC, True for ITM), split so that every
image and text is encoded once and ITM reuses the vision encoder outputs.

Precision as LAVIS ran it: only the vision encoder in reduced precision (fp16 on GPU by
default); the Q-Former, query tokens, text embeddings, projections and ITM head in fp32.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from ..backend_api import ImageEmbeddings, RetrievalBackend
from ..errors import BadInputError
from ..provenance import weights_fingerprint
from ..types import ModelTraits
from ._hf import (
    DTYPES,
    HfBlip2Options,
    check_checkpoint,
    check_device,
    check_loading_info,
    device_name,
    hf_identity,
    image_processing_record,
    kernels_record,
    lavis_image_processor,
    load_kwargs,
    local_checkpoint_config,
    place,
    resolve_device,
)

log = logging.getLogger(__name__)

MAX_TEXT_TOKENS = 35
"""LAVIS compute_sim_matrix tokenizes captions with truncation at 35 tokens ([CLS] and [SEP] included)."""
RETRIEVAL_ARCH = "Blip2ForImageTextRetrieval"
# Modules LAVIS keeps in fp32 (everything but the ViT); HF keeps only query_tokens/qformer.
_FP32_PARTS = ("embeddings", "vision_projection", "text_projection", "itm_head")


def resolve_dtype(options: HfBlip2Options, device: torch.device) -> torch.dtype:
    """LAVIS evaluates with the ViT in fp16 (vit_precision) on GPU; fp32 on CPU."""
    if options.dtype != "auto":
        return DTYPES[options.dtype]
    return torch.float16 if device.type == "cuda" else torch.float32


def check_retrieval_config(options: HfBlip2Options, config: dict[str, Any]) -> None:
    """BadInputError unless a config.json describes a BLIP-2 image-text retrieval model at our image size."""
    check_checkpoint(options, config, RETRIEVAL_ARCH, "an image-text retrieval model")
    if not (config.get("qformer_config") or {}).get("use_qformer_text_input", False):
        raise BadInputError(
            f"backend {options.name}: {options.model} is a BLIP-2 model without a text-input Q-Former, not an "
            f"image-text retrieval model ({RETRIEVAL_ARCH}: Q-Former text input, ITC projections, ITM head); "
            "use e.g. Salesforce/blip2-itm-vit-g or Salesforce/blip2-itm-vit-g-coco"
        )


class HfBlip2RetrievalBackend(RetrievalBackend):
    """Image features, text features and pair ITM scores; the caller batches and caches."""

    Options = HfBlip2Options

    @staticmethod
    def identity(options: HfBlip2Options) -> dict[str, Any]:
        return {**hf_identity(options, resolve_dtype(options, resolve_device(options.device))), "family": "itm"}

    @staticmethod
    def traits(options: HfBlip2Options) -> ModelTraits:
        return ModelTraits(family="itm", image_size=options.image_size)

    @staticmethod
    def preflight(options: HfBlip2Options) -> None:
        """Before any task work: the device exists; a local folder holds a retrieval checkpoint
        trained at backend.image_size (a hub id is checked from its config before weights load)."""
        if options.quantization != "none":  # the retrieval model is small; LAVIS keeps its heads in fp32
            raise BadInputError(f"backend {options.name}: backend.quantization is for generation backends only")
        check_device(options)
        config = local_checkpoint_config(options)
        if config is not None:
            check_retrieval_config(options, config)

    def __init__(self, config: HfBlip2Options) -> None:
        from transformers import Blip2Config, Blip2ForImageTextRetrieval, Blip2Processor

        self.preflight(config)
        self.config = config
        self.device = resolve_device(config.device)
        self.dtype = resolve_dtype(config, self.device)
        kwargs: dict[str, Any] = {"revision": config.revision} if config.revision else {}
        try:
            hf_config = Blip2Config.from_pretrained(config.model, **kwargs)
            check_retrieval_config(config, hf_config.to_dict())
            self.processor = Blip2Processor.from_pretrained(config.model, **kwargs)
            self.processor.image_processor = lavis_image_processor(config.model, config.image_size, **kwargs)
            model, info = Blip2ForImageTextRetrieval.from_pretrained(
                config.model, **kwargs, **load_kwargs(config, self.dtype)
            )
        except (OSError, ValueError) as exc:  # missing, offline, or not a valid repo id
            raise BadInputError(
                f"cannot load BLIP-2 retrieval weights {config.model!r}: {str(exc).splitlines()[0]} "
                "(offline? pre-download them or give a local folder as backend.model)"
            ) from None
        # Randomly initialised heads would give garbage scores without an error.
        check_loading_info(config, Blip2ForImageTextRetrieval, info)
        # LAVIS runs everything after the ViT in fp32; HF would leave embeddings/heads in self.dtype.
        model.query_tokens.data = model.query_tokens.data.float()
        for part in ("qformer", *_FP32_PARTS):
            getattr(model, part).float()
        self.model = place(model, config, self.device)
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "right"  # BERT; position ids assume it
        self.num_query_tokens = int(model.config.num_query_tokens)

    # --- the retrieval protocol -----------------------------------------------------------------
    def embed_images(self, images: Sequence[Image.Image]) -> ImageEmbeddings:
        itc, vision = self.image_features(images)
        # Host memory, not the GPU: ViT-g vision outputs for COCO 5k are ~9.5 GB in fp16;
        # each ITM batch moves only its own rows back to the device.
        return ImageEmbeddings(itc=itc, state=vision.cpu())

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        return self.text_features(texts)[0]

    def match(self, image_states: torch.Tensor, texts: Sequence[str]) -> torch.Tensor:
        tokens = self.tokenize(texts)
        return self.itm_scores(image_states, tokens["input_ids"], tokens["attention_mask"])

    def tokenize(self, texts: Sequence[str], padding: str = "longest") -> dict[str, torch.Tensor]:
        """As LAVIS: truncation at 35 tokens. LAVIS pads to 35 (`padding="max_length"`); we pad to
        the batch's longest text: the attention mask makes the results the same (tested to 1e-6)."""
        return dict(
            self.tokenizer(
                list(texts), padding=padding, truncation=True, max_length=MAX_TEXT_TOKENS, return_tensors="pt"
            )
        )

    # --- the stages of LAVIS compute_sim_matrix ---------------------------------------------------
    @torch.inference_mode()
    def image_features(self, images: Sequence[Image.Image]) -> tuple[torch.Tensor, torch.Tensor]:
        """(ITC query embeddings (n, Q, D) normalised, float32 on CPU; vision outputs (n, P, H)).

        The vision outputs (LAVIS's ln_vision(visual_encoder(image)), HF's post-layernormed
        last_hidden_state) stay on the backend device in the model dtype for ITM reuse; the
        caller may keep them elsewhere (`itm_scores` moves them back). For ViT-g at 364 px
        they are 677 x 1408 values per image (1.9 MB in fp16).
        """
        pixels = self.processor.image_processor(list(images), return_tensors="pt")["pixel_values"]
        vision = self.model.vision_model(pixel_values=pixels.to(self.device, self.dtype)).last_hidden_state
        queries = self._qformer(self.model.query_tokens.expand(vision.shape[0], -1, -1), vision)
        embeds = self._project(self.model.vision_projection, queries)
        return embeds.float().cpu(), vision

    @torch.inference_mode()
    def text_features(
        self, texts: Sequence[str], padding: str = "longest"
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(ITC text embeddings (n, D) normalised, float32 on CPU; tokens on CPU padded to the batch max).

        `texts` are already preprocessed (LAVIS blip_caption); tokenized by `tokenize`.
        """
        tokens = self.tokenize(texts, padding)
        ids, mask = tokens["input_ids"], tokens["attention_mask"]
        hidden = self._qformer(self.model.embeddings(input_ids=ids.to(self.device)), None, mask.to(self.device))
        embeds = self._project(self.model.text_projection, hidden[:, 0, :])  # the [CLS] position
        return embeds.float().cpu(), {"input_ids": ids, "attention_mask": mask}

    @torch.inference_mode()
    def itm_scores(
        self, vision_embeds: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """ITM positive-class logit of each aligned (image, text) pair, averaged over the query outputs.

        As LAVIS compute_itm: queries and text share one Q-Former pass with cross-attention
        to the image, the ITM head runs on the query positions, logit[:, :, 1].mean(1).
        Columns past the batch's longest text are dropped (padding only). float32 on CPU.
        """
        if not (len(vision_embeds) == len(input_ids) == len(attention_mask)):
            raise ValueError(f"pair batch sizes differ: {len(vision_embeds)}, {len(input_ids)}, {len(attention_mask)}")
        used = attention_mask.bool().any(dim=0).nonzero()
        width = int(used.max()) + 1 if len(used) else 1
        ids = input_ids[:, :width].to(self.device)
        mask = attention_mask[:, :width].to(self.device)
        vision = vision_embeds.to(self.device, self.dtype)
        query_tokens = self.model.query_tokens.expand(len(ids), -1, -1)
        n_query = query_tokens.shape[1]
        embeddings = self.model.embeddings(input_ids=ids, query_embeds=query_tokens)
        query_mask = torch.ones((len(ids), n_query), dtype=mask.dtype, device=self.device)
        hidden = self._qformer(embeddings, vision, torch.cat([query_mask, mask], dim=1), query_length=n_query)
        head = self.model.itm_head
        logits = head(hidden[:, :n_query, :].to(head.weight.dtype))
        return logits[:, :, 1].mean(dim=1).float().cpu()

    def _qformer(
        self,
        embeds: torch.Tensor,
        vision: torch.Tensor | None,
        mask: torch.Tensor | None = None,
        query_length: int | None = None,
    ) -> torch.Tensor:
        kwargs: dict[str, Any] = {}
        if vision is not None:
            ones = torch.ones(vision.shape[:-1], dtype=torch.long, device=vision.device)
            kwargs = {"encoder_hidden_states": vision, "encoder_attention_mask": ones}
        if vision is None:
            query_length = 0  # text only: no query tokens in the sequence
        out = self.model.qformer(query_embeds=embeds, query_length=query_length, attention_mask=mask, **kwargs)
        return out.last_hidden_state

    @staticmethod
    def _project(layer: torch.nn.Linear, hidden: torch.Tensor) -> torch.Tensor:
        return F.normalize(layer(hidden.to(layer.weight.dtype)), dim=-1)

    # --- provenance ---------------------------------------------------------------------------
    def provenance(self) -> dict[str, Any]:
        ip = self.processor.image_processor
        local = Path(self.config.model).is_dir()
        return {
            "id": self.config.name,
            "impl": "hf_blip2_retrieval",
            "model": self.config.model,
            "revision": self.config.revision,
            "commit": getattr(self.model.config, "_commit_hash", None),
            "weights": weights_fingerprint(Path(self.config.model)) if local else None,
            "dtype": str(self.dtype).removeprefix("torch."),
            "component_dtypes": {
                part: str(next(getattr(self.model, part).parameters()).dtype).removeprefix("torch.")
                for part in ("vision_model", "qformer", *_FP32_PARTS)
            },
            "device": str(self.device),
            "device_name": device_name(self.device),
            "batch_size": self.config.batch_size,
            "num_query_tokens": self.num_query_tokens,
            "max_text_tokens": MAX_TEXT_TOKENS,
            **kernels_record(self.model, self.config),
            "image_processing": image_processing_record(ip),
        }


BACKEND = HfBlip2RetrievalBackend
