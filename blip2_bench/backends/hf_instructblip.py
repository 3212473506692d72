"""HF transformers InstructBLIP (InstructBlipForConditionalGeneration; Vicuna or Flan-T5) from a hub id
or a local folder.

InstructBLIP (Dai et al. 2023, arXiv 2305.06500) is BLIP-2 with an instruction-aware Q-Former:
the instruction is tokenized with the Q-Former's BERT tokenizer and read by the Q-Former next to
the 32 queries, so the query features depend on the prompt as well as the image. As in LAVIS
(lavis/models/blip2_models/blip2_vicuna_instruct.py and blip2_t5_instruct.py, `generate`) and in
transformers' InstructBlipProcessor, the instruction is the request's prompt itself, the same
text the LLM continues; LAVIS keeps at most 128 of its Q-Former tokens (`max_txt_len`),
truncating on the left. Prompts are the tasks': this backend tells them, through
`traits().family`, which per-family prompt set to render (`prompt_family`, "t5" in every
InstructBLIP config: the short-answer VQA prompt, as InstructBLIP is evaluated for both LLMs).

The vision encoder runs once per distinct image of a batch; the Q-Former runs once per request
(its output depends on the instruction). Generation then follows the BLIP-2 backend: query
embeddings in front of the (left-padded, for Vicuna) prompt, generation from embeddings, so
only new tokens come back and penalties see generated tokens only, as in LAVIS.

Imports are absolute (only the public backend contract and `backends._hf`), so this file also
runs as a plugin copied into any `backend_dirs` folder (tests/integration/test_instructblip_run.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from blip2_bench.backend_api import GenerationBackend
from blip2_bench.backends._hf import (
    DTYPES,
    HfBlip2Options,
    check_device,
    check_loading_info,
    check_quantized_answers,
    device_name,
    generate_after_queries,
    generation_kwargs,
    hf_identity,
    image_processing_record,
    is_local_model,
    kernels_record,
    lavis_image_processor,
    load_kwargs,
    local_checkpoint_config,
    pixel_batch,
    pixel_values,
    place,
    resolve_device,
)
from blip2_bench.errors import BadInputError
from blip2_bench.provenance import weights_fingerprint
from blip2_bench.types import GenerationRequest, GenerationSettings, ModelTraits

ARCHITECTURE = "InstructBlipForConditionalGeneration"
MODEL_TYPE = "instructblip"
PROMPT_FAMILIES = ("opt", "t5")
QFORMER_TOKENIZER_DIR = "qformer_tokenizer"  # where InstructBlipProcessor.save_pretrained puts it
QFORMER_INSTRUCTION = (
    "the request's prompt, unchanged (the same text the LLM gets), as LAVIS blip2_*_instruct.generate and "
    "InstructBlipProcessor pass it; BERT-tokenized with [CLS]/[SEP], right-padded"
)


@dataclass(frozen=True)
class HfInstructBlipOptions(HfBlip2Options):
    """An InstructBLIP checkpoint loaded with transformers `from_pretrained`."""

    impl: str = "hf_instructblip"
    family: str = "t5"
    """LLM family: "opt" = decoder-only (Vicuna: left padding, dtype=auto fp16 on GPU) or "t5" =
    encoder-decoder (Flan-T5: right padding, bf16 on GPU; fp16 refused). Both stop at EOS."""
    prompt_family: str = "t5"
    """Which of the tasks' per-family prompt sets the tasks render (`ModelTraits.family`): "t5" is
    the short-answer VQA prompt `Question: {} Short answer:`, InstructBLIP's for both LLMs."""
    qformer_max_length: int = 128
    """Instruction tokens the Q-Former reads at most (LAVIS `max_txt_len`); longer ones lose their
    start (LAVIS truncates on the left). Capped by the Q-Former's position table."""

    def __post_init__(self) -> None:
        if self.family not in PROMPT_FAMILIES:  # before BLIP-2's check, which would offer "itm"
            raise BadInputError(
                f"backend.family must be 'opt' (Vicuna: decoder-only) or 't5' (Flan-T5) for InstructBLIP, "
                f"got {self.family!r}"
            )
        super().__post_init__()
        if self.prompt_family not in PROMPT_FAMILIES:
            raise BadInputError(f"backend.prompt_family must be one of {PROMPT_FAMILIES}, got {self.prompt_family!r}")
        if self.qformer_max_length < 1:
            raise BadInputError(f"backend.qformer_max_length must be >= 1, got {self.qformer_max_length}")


def resolve_dtype(options: HfInstructBlipOptions, device: torch.device) -> torch.dtype:
    """As LAVIS runs InstructBLIP on GPU (Vicuna fp16, Flan-T5 bf16); fp32 on CPU."""
    if options.dtype != "auto":
        return DTYPES[options.dtype]
    if device.type != "cuda":
        return torch.float32
    return torch.float16 if options.family == "opt" else torch.bfloat16


def check_checkpoint(options: HfInstructBlipOptions, config: dict[str, Any]) -> None:
    """The checkpoint is an InstructBLIP generation model trained at `options.image_size`."""
    where = f"backend {options.name}: {options.model}"
    archs = config.get("architectures") or []
    if config.get("model_type") != MODEL_TYPE:
        what = f"a {', '.join(archs)} checkpoint" if archs else "a checkpoint"
        raise BadInputError(
            f"{where} is {what} (model_type={config.get('model_type')!r}), not an InstructBLIP generation model "
            f"({ARCHITECTURE})"
        )
    if archs and ARCHITECTURE not in archs:
        raise BadInputError(f"{where} is a {', '.join(archs)} checkpoint, not {ARCHITECTURE}")
    size = (config.get("vision_config") or {}).get("image_size", 224)  # InstructBlipVisionConfig's default
    if size != options.image_size:
        # A smaller size would slice the position embeddings and silently score a different model.
        raise BadInputError(
            f"{where} was trained at {size} px but backend.image_size={options.image_size}; "
            f"set backend.image_size={size} (or pick the backend config made for this checkpoint)"
        )


def _qformer_tokenizer_files(options: HfInstructBlipOptions) -> dict[str, str] | None:
    folder = Path(options.model).expanduser() / QFORMER_TOKENIZER_DIR
    return weights_fingerprint(folder) if folder.is_dir() else None


def _hub_commit(options: HfInstructBlipOptions) -> str | None:
    """The commit a hub id resolved to in the local cache (transformers 5 no longer records it)."""
    if is_local_model(options.model):
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(options.model, "config.json", revision=options.revision)
    except Exception:  # an unusual cache layout must not fail a finished run's record
        return None
    return Path(path).parent.name if isinstance(path, str) else None


class HfInstructBlipBackend(GenerationBackend):
    """Runs one batch at a time: the ViT once per distinct image, the Q-Former once per request."""

    Options = HfInstructBlipOptions

    @staticmethod
    def identity(options: HfInstructBlipOptions) -> dict[str, Any]:
        identity = hf_identity(options, resolve_dtype(options, resolve_device(options.device)))
        identity.update(
            architecture=ARCHITECTURE,
            prompt_family=options.prompt_family,
            qformer_max_length=options.qformer_max_length,
        )
        if is_local_model(options.model):
            # The top-level fingerprint does not reach the Q-Former tokenizer's subfolder.
            identity["qformer_tokenizer"] = _qformer_tokenizer_files(options)
        return identity

    @staticmethod
    def traits(options: HfInstructBlipOptions) -> ModelTraits:
        return ModelTraits(family=options.prompt_family, image_size=options.image_size)

    @staticmethod
    def preflight(options: HfInstructBlipOptions) -> None:
        """Before any task work: the device exists; a local folder holds an InstructBLIP checkpoint
        trained at backend.image_size (a hub id is checked from its config before weights load)."""
        check_device(options)
        config = local_checkpoint_config(options)
        if config is not None:
            check_checkpoint(options, config)

    def __init__(self, config: HfInstructBlipOptions) -> None:
        from transformers import AutoConfig, AutoTokenizer, InstructBlipForConditionalGeneration

        self.preflight(config)
        self.config = config
        self.device = resolve_device(config.device)
        self.dtype = resolve_dtype(config, self.device)
        kwargs: dict[str, Any] = {"revision": config.revision} if config.revision else {}
        try:
            # AutoConfig, not InstructBlipConfig: the latter would relabel a BLIP-2 config as InstructBLIP.
            check_checkpoint(config, AutoConfig.from_pretrained(config.model, **kwargs).to_dict())
            # The three parts of the checkpoint's InstructBlipProcessor, loaded one by one: the
            # processor falls back to the LLM tokenizer, with only a warning, when its Q-Former
            # tokenizer cannot be loaded (e.g. an offline cache that lacks a file), which would feed
            # the Q-Former another vocabulary's ids.
            self.tokenizer = AutoTokenizer.from_pretrained(config.model, **kwargs)
            self.image_processor = lavis_image_processor(config.model, config.image_size, **kwargs)
            model, info = InstructBlipForConditionalGeneration.from_pretrained(
                config.model,
                **kwargs,
                **load_kwargs(config, self.dtype),  # 8bit/4bit: placed while loading
            )
        except (OSError, ValueError) as exc:  # missing, offline, or not a valid repo id
            raise BadInputError(
                f"cannot load InstructBLIP weights {config.model!r}: {str(exc).splitlines()[0]} "
                "(offline? pre-download them or give a local folder as backend.model)"
            ) from None
        try:
            self.qformer_tokenizer = AutoTokenizer.from_pretrained(
                config.model, subfolder=QFORMER_TOKENIZER_DIR, **kwargs
            )
        except (OSError, ValueError) as exc:
            raise BadInputError(
                f"backend {config.name}: cannot load the Q-Former tokenizer ({QFORMER_TOKENIZER_DIR}/) of "
                f"{config.model}: {str(exc).splitlines()[0]}"
            ) from None
        check_loading_info(config, InstructBlipForConditionalGeneration, info)
        qformer_vocab = int(model.config.qformer_config.vocab_size)
        if len(self.qformer_tokenizer) > qformer_vocab:
            raise BadInputError(
                f"backend {config.name}: the Q-Former tokenizer of {config.model} has {len(self.qformer_tokenizer)} "
                f"tokens but the Q-Former only {qformer_vocab} embeddings (the wrong tokenizer?)"
            )
        if model.config.image_token_index is None:
            raise BadInputError(
                f"backend {config.name}: {config.model} has no image_token_index (a revision from before "
                "transformers put <image> tokens in the prompt); use a current revision"
            )
        self.model = place(model, config, self.device)
        is_decoder_only = bool(model.config.use_decoder_only_language_model)
        if is_decoder_only != (config.family == "opt"):
            raise BadInputError(
                f"backend {config.name}: family={config.family!r} but {config.model} has a "
                f"{'decoder-only' if is_decoder_only else 'encoder-decoder'} language model"
            )
        self.is_decoder_only = is_decoder_only
        # LAVIS pads Vicuna prompts on the left so generation continues right after them.
        self.tokenizer.padding_side = "left" if is_decoder_only else "right"
        self.qformer_tokenizer.padding_side = "right"
        self.qformer_tokenizer.truncation_side = "left"  # LAVIS: init_tokenizer(truncation_side="left")
        positions = int(model.config.qformer_config.max_position_embeddings)
        self.qformer_max_length = min(config.qformer_max_length, positions)
        self.num_query_tokens = int(model.config.num_query_tokens)
        self.image_token_id = int(model.config.image_token_index)
        if self.tokenizer.eos_token_id is None:
            raise BadInputError(f"{config.model}: the LLM tokenizer has no EOS token to stop at")
        self._alone: tuple[str, torch.Tensor] | None = None  # the last batch's image when it was alone

    # --- the batch API ---------------------------------------------------------------------
    @torch.inference_mode()
    def encode_images(self, images: Sequence[Image.Image | torch.Tensor]) -> torch.Tensor:
        """Vision-encoder outputs (post-layernorm patch embeddings): (n, patches + 1, vision hidden)."""
        pixels = pixel_batch(self.image_processor, images, self.device, self.dtype)
        return self.model.vision_model(pixel_values=pixels, return_dict=True).last_hidden_state

    @torch.inference_mode()
    def instruction_features(self, image_embeds: torch.Tensor, prompts: Sequence[str]) -> torch.Tensor:
        """Q-Former queries read each row's image and its instruction (the prompt), projected into the
        LLM's input space: (n, num_query_tokens, LLM hidden). Steps as transformers' get_image_features."""
        text = self.qformer_tokenizer(
            list(prompts), padding=True, truncation=True, max_length=self.qformer_max_length, return_tensors="pt"
        ).to(self.device)
        n = len(prompts)
        queries = self.model.query_tokens.expand(n, -1, -1)
        query_mask = torch.ones(queries.shape[:-1], dtype=torch.long, device=self.device)
        image_mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device)
        output = self.model.qformer(
            input_ids=text.input_ids,
            attention_mask=torch.cat([query_mask, text.attention_mask], dim=1),
            query_embeds=queries,
            encoder_hidden_states=image_embeds,
            encoder_attention_mask=image_mask,
            return_dict=True,
        )
        return self.model.language_projection(output.last_hidden_state[:, : self.num_query_tokens, :])

    @torch.inference_mode()
    def generate_from_image_embeds(
        self,
        image_embeds: torch.Tensor,
        prompts: Sequence[str],
        settings: GenerationSettings,
        ids: Sequence[str] = (),
    ) -> list[str]:
        """Generate for prompts whose images' vision outputs are rows of `image_embeds` (same order)."""
        features = self.instruction_features(image_embeds, prompts)
        return generate_after_queries(self, features, prompts, settings, ids, decoder_only=self.is_decoder_only)

    def _generation_kwargs(self, settings: GenerationSettings) -> dict[str, Any]:
        # LAVIS stops both LLMs at EOS (no newline stop, unlike blip2_opt).
        return generation_kwargs(settings, self.tokenizer.pad_token_id, self.tokenizer.eos_token_id)

    def prepare_image(self, image: Image.Image) -> torch.Tensor:
        return pixel_values(self.image_processor, image)

    def generate(self, requests: Sequence[GenerationRequest], images: Mapping[str, Any]) -> list[str]:
        settings = {r.settings for r in requests}
        if len(settings) != 1:
            raise ValueError("a batch must share one set of generation settings")
        keys = list(dict.fromkeys(r.image.key for r in requests))
        if len(keys) == 1 and self._alone is not None and self._alone[0] == keys[0]:
            embeds = self._alone[1]  # the plan's next batch of one big image: encoded once, alone
        else:
            embeds = self.encode_images([images[k] for k in keys])
        # An image alone in its batch was encoded alone, so reusing its vision outputs in the next
        # batch gives the same bits as re-encoding it (a resumed run re-encodes it alone too).
        self._alone = (keys[0], embeds) if len(keys) == 1 else None
        row = {k: i for i, k in enumerate(keys)}
        index = torch.tensor([row[r.image.key] for r in requests], device=embeds.device)
        prompts, ids = [r.prompt for r in requests], [r.sample_id for r in requests]
        outputs = self.generate_from_image_embeds(embeds[index], prompts, settings.pop(), ids)
        check_quantized_answers(self.config, outputs)  # all-empty quantized answers stop the run
        return outputs

    # --- provenance ---------------------------------------------------------------------------
    def provenance(self) -> dict[str, Any]:
        local = Path(self.config.model).is_dir()
        parts = ("vision_model", "qformer", "language_projection", "language_model")
        dtypes = {part: str(next(getattr(self.model, part).parameters()).dtype) for part in parts}
        dtypes["query_tokens"] = str(self.model.query_tokens.dtype)  # fp32 when HF loads fp16
        return {
            "id": self.config.name,
            "impl": self.config.impl,
            "architecture": ARCHITECTURE,
            "model": self.config.model,
            "revision": self.config.revision,
            "commit": getattr(self.model.config, "_commit_hash", None) or _hub_commit(self.config),
            "weights": weights_fingerprint(Path(self.config.model)) if local else None,
            # "family" is what the tasks picked their prompts by (and what the report reads to show
            # the prompt as used); the LLM's own family is "llm_family".
            "family": self.config.prompt_family,
            "llm_family": self.config.family,
            "language_model": type(self.model.language_model).__name__,
            "dtype": str(self.dtype).removeprefix("torch."),
            "quantization": self.config.quantization,
            **kernels_record(self.model, self.config),
            "component_dtypes": {part: dtype.removeprefix("torch.") for part, dtype in dtypes.items()},
            "device": str(self.device),
            "device_name": device_name(self.device),
            "batch_size": self.config.batch_size,
            "num_query_tokens": self.num_query_tokens,
            "stop": f"eos token {self.tokenizer.eos_token!r} (as LAVIS blip2_*_instruct)",
            "prompt": "the request's prompt, unchanged: the task's rendering (results: tasks.<name>.settings)",
            "qformer_instruction": {
                "text": QFORMER_INSTRUCTION,
                "tokenizer": type(self.qformer_tokenizer).__name__,
                "max_length": self.qformer_max_length,
                "truncation_side": "left",
                "tokenizer_files": _qformer_tokenizer_files(self.config) if local else None,
            },
            "image_processing": image_processing_record(self.image_processor),
        }


BACKEND = HfInstructBlipBackend
