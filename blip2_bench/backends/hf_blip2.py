"""HF transformers BLIP-2 (Blip2ForConditionalGeneration) from a hub id or a local folder."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ..backend_api import GenerationBackend
from ..errors import BadInputError
from ..provenance import weights_fingerprint
from ..types import GenerationRequest, GenerationSettings, ModelTraits
from ._hf import (
    DTYPES,
    HfBlip2Options,
    check_checkpoint,
    check_device,
    check_loading_info,
    check_quantized_answers,
    device_name,
    generate_after_queries,
    generation_kwargs,
    hf_identity,
    image_processing_record,
    kernels_record,
    lavis_image_processor,
    load_kwargs,
    local_checkpoint_config,
    pixel_batch,
    pixel_values,
    place,
    resolve_device,
)

ARCHITECTURE = "Blip2ForConditionalGeneration"

log = logging.getLogger(__name__)


def resolve_dtype(config: HfBlip2Options, device: torch.device) -> torch.dtype:
    """The paper's precision on GPU (LAVIS: OPT fp16, Flan-T5 bf16); fp32 on CPU."""
    if config.dtype != "auto":
        return DTYPES[config.dtype]
    if device.type != "cuda":
        return torch.float32
    return torch.float16 if config.family == "opt" else torch.bfloat16


class HfBlip2Backend(GenerationBackend):
    """Runs one batch at a time; image features are computed once per distinct image."""

    Options = HfBlip2Options

    @staticmethod
    def identity(options: HfBlip2Options) -> dict[str, Any]:
        return hf_identity(options, resolve_dtype(options, resolve_device(options.device)))

    @staticmethod
    def traits(options: HfBlip2Options) -> ModelTraits:
        return ModelTraits(family=options.family, image_size=options.image_size)

    @staticmethod
    def preflight(options: HfBlip2Options) -> None:
        """Before any task work: the device exists; a local folder holds a generation checkpoint
        trained at backend.image_size (a hub id is checked from its config before weights load)."""
        check_device(options)
        if options.family == "itm":
            raise BadInputError(
                f"backend {options.name}: family 'itm' is a retrieval model; use impl hf_blip2_retrieval"
            )
        config = local_checkpoint_config(options)
        if config is not None:
            check_checkpoint(options, config, ARCHITECTURE, "a BLIP-2 generation model")

    def __init__(self, config: HfBlip2Options) -> None:
        from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2Processor

        self.preflight(config)
        self.config = config
        self.device = resolve_device(config.device)
        self.dtype = resolve_dtype(config, self.device)
        kwargs: dict[str, Any] = {"revision": config.revision} if config.revision else {}
        try:
            hf_config = Blip2Config.from_pretrained(config.model, **kwargs)
            check_checkpoint(config, hf_config.to_dict(), ARCHITECTURE, "a BLIP-2 generation model")
            self.processor = Blip2Processor.from_pretrained(config.model, **kwargs)
            self.processor.image_processor = lavis_image_processor(config.model, config.image_size, **kwargs)
            model, info = Blip2ForConditionalGeneration.from_pretrained(
                config.model, **kwargs, **load_kwargs(config, self.dtype)
            )
        except (OSError, ValueError) as exc:  # missing, offline, or not a valid repo id
            raise BadInputError(
                f"cannot load BLIP-2 weights {config.model!r}: {str(exc).splitlines()[0]} "
                "(offline? pre-download them or give a local folder as backend.model)"
            ) from None
        check_loading_info(config, Blip2ForConditionalGeneration, info)
        self.model = place(model, config, self.device)
        is_decoder_only = bool(model.config.use_decoder_only_language_model)
        if is_decoder_only != (config.family == "opt"):
            raise BadInputError(
                f"backend {config.name}: family={config.family!r} but {config.model} has a "
                f"{'decoder-only' if is_decoder_only else 'encoder-decoder'} language model"
            )
        self.tokenizer = self.processor.tokenizer
        # LAVIS pads decoder-only prompts on the left so generation continues right after them.
        self.tokenizer.padding_side = "left" if is_decoder_only else "right"
        self.num_query_tokens = int(model.config.num_query_tokens)
        self.image_token_id = int(model.config.image_token_id)
        # LAVIS's blip2_opt stops at the newline token (it is passed as eos_token_id).
        self.stop_ids = self._stop_ids() if is_decoder_only else None
        self._alone: tuple[str, torch.Tensor] | None = None  # the last batch's image when it was alone

    def _stop_ids(self) -> list[int]:
        newline = self.tokenizer("\n", add_special_tokens=False).input_ids
        if len(newline) != 1:
            raise BadInputError(f"{self.config.model}: tokenizer splits '\\n' into {newline}; cannot stop at newline")
        return newline

    # --- the batch API ---------------------------------------------------------------------
    @torch.inference_mode()
    def encode_images(self, images: Sequence[Image.Image | torch.Tensor]) -> torch.Tensor:
        """Query embeddings projected into the LLM's input space: (n, num_query_tokens, hidden)."""
        pixels = pixel_batch(self.processor.image_processor, images, self.device, self.dtype)
        return self.model.get_image_features(pixel_values=pixels).pooler_output

    @torch.inference_mode()
    def generate_from_features(
        self, features: torch.Tensor, prompts: Sequence[str], settings: GenerationSettings, ids: Sequence[str] = ()
    ) -> list[str]:
        """Generate for prompts whose images' features are rows of `features` (same order)."""
        return generate_after_queries(self, features, prompts, settings, ids, decoder_only=bool(self.stop_ids))

    def _generation_kwargs(self, settings: GenerationSettings) -> dict[str, Any]:
        # LAVIS's blip2_opt stops at the newline token (stop_ids); T5 at EOS.
        return generation_kwargs(settings, self.tokenizer.pad_token_id, self.stop_ids)

    def prepare_image(self, image: Image.Image) -> torch.Tensor:
        return pixel_values(self.processor.image_processor, image)

    def generate(self, requests: Sequence[GenerationRequest], images: Mapping[str, Any]) -> list[str]:
        settings = {r.settings for r in requests}
        if len(settings) != 1:
            raise ValueError("a batch must share one set of generation settings")
        keys = list(dict.fromkeys(r.image.key for r in requests))
        if len(keys) == 1 and self._alone is not None and self._alone[0] == keys[0]:
            features = self._alone[1]  # the plan's next batch of one big image: encoded once, alone
        else:
            features = self.encode_images([images[k] for k in keys])
        # An image alone in its batch was encoded alone, so reusing its features in the next batch
        # gives the same bits as re-encoding it (a resumed run re-encodes it alone too).
        self._alone = (keys[0], features) if len(keys) == 1 else None
        row = {k: i for i, k in enumerate(keys)}
        index = torch.tensor([row[r.image.key] for r in requests], device=features.device)
        prompts, ids = [r.prompt for r in requests], [r.sample_id for r in requests]
        outputs = self.generate_from_features(features[index], prompts, settings.pop(), ids)
        check_quantized_answers(self.config, outputs)
        return outputs

    # --- provenance ---------------------------------------------------------------------------
    def provenance(self) -> dict[str, Any]:
        ip = self.processor.image_processor
        return {
            "id": self.config.name,
            "impl": "hf_blip2",
            "model": self.config.model,
            "revision": self.config.revision,
            "commit": getattr(self.model.config, "_commit_hash", None),
            "weights": weights_fingerprint(Path(self.config.model)) if Path(self.config.model).is_dir() else None,
            "family": self.config.family,
            "dtype": str(self.dtype).removeprefix("torch."),
            # What each part really ran in (HF keeps the Q-Former in fp32 only when loading fp16).
            "component_dtypes": {
                part: str(next(getattr(self.model, part).parameters()).dtype).removeprefix("torch.")
                for part in ("vision_model", "qformer", "language_projection", "language_model")
            },
            "device": str(self.device),
            "device_name": device_name(self.device),
            "batch_size": self.config.batch_size,
            "num_query_tokens": self.num_query_tokens,
            "stop": "newline token (as LAVIS blip2_opt)" if self.stop_ids else "eos",
            "quantization": self.config.quantization,
            **kernels_record(self.model, self.config),
            "image_processing": image_processing_record(ip),
        }


BACKEND = HfBlip2Backend
