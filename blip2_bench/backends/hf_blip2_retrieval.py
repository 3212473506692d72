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

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from ..config import BackendConfig
from ..errors import BadInputError
from ..provenance import weights_fingerprint
from ..types import ModelTraits
from .common import DTYPES, device_name, image_processing_record, lavis_image_processor, resolve_device

log = logging.getLogger(__name__)

MAX_TEXT_TOKENS = 35
"""LAVIS compute_sim_matrix tokenizes captions with truncation at 35 tokens ([CLS] and [SEP] included)."""
RETRIEVAL_ARCH = "Blip2ForImageTextRetrieval"
# Modules LAVIS keeps in fp32 (everything but the ViT); HF keeps only query_tokens/qformer.
_FP32_PARTS = ("embeddings", "vision_projection", "text_projection", "itm_head")


def _looks_local(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or Path(model).exists()


def check_retrieval_config(config: dict[str, Any], where: str) -> None:
    """BadInputError unless a config.json describes a BLIP-2 image-text retrieval model."""
    if config.get("model_type") not in ("blip-2", "blip_2"):
        raise BadInputError(f"{where} is not a BLIP-2 checkpoint (model_type={config.get('model_type')!r})")
    archs = config.get("architectures") or []
    qformer = config.get("qformer_config") or {}
    if (archs and RETRIEVAL_ARCH not in archs) or not qformer.get("use_qformer_text_input", False):
        what = ", ".join(archs) if archs else "a BLIP-2 model without a text-input Q-Former"
        raise BadInputError(
            f"{where} is {what}, not an image-text retrieval model ({RETRIEVAL_ARCH}: Q-Former text input, "
            "ITC projections, ITM head); use e.g. Salesforce/blip2-itm-vit-g or Salesforce/blip2-itm-vit-g-coco"
        )


class HfBlip2RetrievalBackend:
    """Image features, text features and pair ITM scores; the caller batches and caches."""

    @staticmethod
    def preflight(config: BackendConfig) -> None:
        """Cheap checks before any task work: a local folder must hold a retrieval checkpoint."""
        if not _looks_local(config.model):
            return  # a hub id: checked in __init__ from its config.json before the weights load
        config_file = Path(config.model).expanduser() / "config.json"
        if not config_file.is_file():
            raise BadInputError(
                f"backend {config.name}: no BLIP-2 checkpoint (config.json) in local folder {config.model}"
            )
        try:
            raw = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BadInputError(f"backend {config.name}: unreadable {config_file}: {exc}") from None
        check_retrieval_config(raw, f"backend {config.name}: {config.model}")

    def __init__(self, config: BackendConfig) -> None:
        from transformers import Blip2Config, Blip2ForImageTextRetrieval, Blip2Processor

        self.preflight(config)
        self.config = config
        self.device = resolve_device(config.device)
        # LAVIS evaluates with the ViT in fp16 (vit_precision) on GPU; fp32 on CPU.
        if config.dtype != "auto":
            self.dtype = DTYPES[config.dtype]
        else:
            self.dtype = torch.float16 if self.device.type == "cuda" else torch.float32
        kwargs: dict[str, Any] = {"revision": config.revision} if config.revision else {}
        try:
            hf_config = Blip2Config.from_pretrained(config.model, **kwargs)
            check_retrieval_config(hf_config.to_dict(), f"backend {config.name}: {config.model}")
            self.processor = Blip2Processor.from_pretrained(config.model, **kwargs)
            self.processor.image_processor = lavis_image_processor(config.model, config.image_size, **kwargs)
            model, info = Blip2ForImageTextRetrieval.from_pretrained(
                config.model, dtype=self.dtype, output_loading_info=True, **kwargs
            )
        except (OSError, ValueError) as exc:  # missing, offline, or not a valid repo id
            raise BadInputError(
                f"cannot load BLIP-2 retrieval weights {config.model!r}: {str(exc).splitlines()[0]} "
                "(offline? pre-download them or give a local folder as backend.model)"
            ) from None
        missing = sorted(k for k in info.get("missing_keys", ()) if k.split(".")[0] in (*_FP32_PARTS, "qformer"))
        if missing:
            # Randomly initialised heads would give garbage scores without an error.
            raise BadInputError(
                f"backend {config.name}: {config.model} lacks retrieval weights ({', '.join(missing[:3])}, ...)"
            )
        # LAVIS runs everything after the ViT in fp32; HF would leave embeddings/heads in self.dtype.
        model.query_tokens.data = model.query_tokens.data.float()
        for part in ("qformer", *_FP32_PARTS):
            getattr(model, part).float()
        self.model = model.to(self.device).eval()
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "right"  # BERT; position ids assume it
        self.traits = ModelTraits(family="itm", image_size=config.image_size)
        self.num_query_tokens = int(model.config.num_query_tokens)

    # --- the batch API ---------------------------------------------------------------------
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

        `texts` are already preprocessed (LAVIS blip_caption). Tokenized as LAVIS does
        (truncation at 35 tokens). LAVIS pads to 35 (`padding="max_length"`); by default we
        pad to the batch's longest text: the attention mask makes the results the same
        (tested to 1e-6), and ITM batches run shorter.
        """
        tokens = self.tokenizer(
            list(texts), padding=padding, truncation=True, max_length=MAX_TEXT_TOKENS, return_tensors="pt"
        )
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
            "image_processing": image_processing_record(ip),
        }
