"""What both HF BLIP-2 backends share: options, weights location, checkpoint checks, device,
dtype names, image preprocessing and its record."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ..backend_api import BackendOptions, added_option
from ..errors import BadInputError, BenchError
from ..provenance import weights_identity

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
DTYPE_CHOICES = ("auto", *DTYPES)
# opt: decoder-only LLM; t5: encoder-decoder LLM; itm: retrieval model (no LLM).
FAMILIES = ("opt", "t5", "itm")
QUANTIZATION = ("none", "8bit", "4bit")
ATTENTION = ("auto", "sdpa", "eager")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


@dataclass(frozen=True)
class HfBlip2Options(BackendOptions):
    """A BLIP-2 checkpoint loaded with transformers `from_pretrained`."""

    impl: str = "hf_blip2"
    model: str = ""
    """Hub id or local folder of the weights."""
    revision: str | None = None
    """Hub revision (branch, tag or commit) to pin."""
    family: str = "opt"
    """LLM family: decides prompts, padding side and stopping ("itm" for retrieval models)."""
    image_size: int = 224
    """Square input size; must equal the checkpoint's (224 zero-shot, 364 -coco)."""
    dtype: str = "auto"
    """auto = the paper's precision on GPU (OPT fp16, Flan-T5 bf16), fp32 on CPU."""
    device: str = "auto"
    """auto (CUDA when available), cpu, cuda, cuda:N or mps."""
    allow_partial_weights: bool = False
    """Load a checkpoint that lacks weights the model needs (they are random-initialised)."""
    quantization: str = "none"
    """none, 8bit or 4bit: low-memory loading through bitsandbytes (CUDA only), e.g. for 24 GB cards."""
    attention: str = added_option("auto")
    """Attention kernels: auto (transformers' choice, SDPA where a part supports it), sdpa or eager."""
    compile: bool = added_option(False)
    """torch.compile the vision encoder (fixed input size, so one graph per batch shape); for GPUs."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.family not in FAMILIES:
            raise BadInputError(f"backend.family must be one of {FAMILIES}, got {self.family!r}")
        if self.dtype not in DTYPE_CHOICES:
            raise BadInputError(f"backend.dtype must be one of {DTYPE_CHOICES}, got {self.dtype!r}")
        if self.family == "t5" and self.dtype == "float16":
            raise BadInputError(
                "backend.dtype=float16 is refused for Flan-T5 (it overflows to NaN and garbage); "
                "use bfloat16 or float32"
            )
        if self.quantization not in QUANTIZATION:
            raise BadInputError(f"backend.quantization must be one of {QUANTIZATION}, got {self.quantization!r}")
        if self.attention not in ATTENTION:
            raise BadInputError(f"backend.attention must be one of {ATTENTION}, got {self.attention!r}")
        if not _DEVICE.match(self.device):
            raise BadInputError(f"backend.device must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}")
        if self.image_size < 1:
            raise BadInputError(f"backend.image_size must be >= 1, got {self.image_size}")
        if not self.model:
            raise BadInputError("backend.model is empty: give a hub id or a local folder")


def is_local_model(model: str) -> bool:
    """A local folder rather than a hub id ("org/name"): the one rule for every backend."""
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or Path(model).expanduser().exists()


def local_checkpoint_config(options: HfBlip2Options) -> dict[str, Any] | None:
    """config.json of a local checkpoint (None for a hub id); a missing or broken one is bad input."""
    if not is_local_model(options.model):
        return None
    path = Path(options.model).expanduser() / "config.json"
    if not path.is_file():
        raise BadInputError(
            f"backend {options.name}: no BLIP-2 checkpoint (config.json) in local folder {options.model}"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"backend {options.name}: unreadable {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise BadInputError(f"backend {options.name}: {path} is not a JSON object")
    return raw


def check_checkpoint(options: HfBlip2Options, config: dict[str, Any], architecture: str, what: str) -> None:
    """The checkpoint is a BLIP-2 of the wanted architecture, trained at `options.image_size`."""
    where = f"backend {options.name}: {options.model}"
    if config.get("model_type") not in ("blip-2", "blip_2"):
        raise BadInputError(f"{where} is not a BLIP-2 checkpoint (model_type={config.get('model_type')!r})")
    archs = config.get("architectures") or []
    if archs and architecture not in archs:
        raise BadInputError(f"{where} is a {', '.join(archs)} checkpoint, not {what} ({architecture})")
    size = (config.get("vision_config") or {}).get("image_size", 224)  # Blip2VisionConfig's default
    if size != options.image_size:
        # A smaller size would slice the position embeddings and silently score a different model.
        raise BadInputError(
            f"{where} was trained at {size} px but backend.image_size={options.image_size}; "
            f"set backend.image_size={size} (or pick the backend config made for this checkpoint)"
        )


def check_loading_info(options: HfBlip2Options, model_class: type, info: dict[str, Any]) -> None:
    """Refuse a checkpoint that lacks weights (transformers would random-initialise them) or holds
    weights the model does not use, beyond what the class declares ignorable."""

    def relevant(keys: Any, ignore_attr: str) -> list[str]:
        patterns = getattr(model_class, ignore_attr, None) or []
        return sorted(k for k in keys or () if not any(re.search(p, k) for p in patterns))

    missing = relevant(info.get("missing_keys"), "_keys_to_ignore_on_load_missing")
    unexpected = relevant(info.get("unexpected_keys"), "_keys_to_ignore_on_load_unexpected")
    mismatched = sorted(str(k[0] if isinstance(k, tuple) else k) for k in info.get("mismatched_keys") or ())
    problems = [
        f"{label} {len(keys)} weights ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})"
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape-mismatched", mismatched))
        if keys
    ]
    if problems and not options.allow_partial_weights:
        raise BadInputError(
            f"backend {options.name}: checkpoint {options.model} is incomplete: {'; '.join(problems)}; "
            "set backend.allow_partial_weights=true to load it anyway (missing weights are random)"
        )


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def check_device(options: HfBlip2Options) -> None:
    """The requested device exists here (before any weights load)."""
    device = options.device
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BadInputError(f"backend.device={device} but this machine has no CUDA device (use auto or cpu)")
        index = resolve_device(device).index
        if index is not None and index >= torch.cuda.device_count():
            raise BadInputError(f"backend.device={device} but only {torch.cuda.device_count()} CUDA devices exist")
    if device == "mps" and not torch.backends.mps.is_available():
        raise BadInputError("backend.device=mps but MPS is not available on this machine")
    if options.quantization != "none":
        import importlib.util

        where = resolve_device(device)
        if where.type != "cuda":
            raise BadInputError(
                f"backend.quantization={options.quantization} needs a CUDA device (bitsandbytes); "
                f"this run's device is {where} (use backend.quantization=none)"
            )
        if importlib.util.find_spec("bitsandbytes") is None:
            raise BadInputError(
                f"backend.quantization={options.quantization} needs bitsandbytes: pip install bitsandbytes"
            )


def check_quantized_answers(options: HfBlip2Options, outputs: list[str]) -> None:
    """8-bit/4-bit BLIP-2 is known to return empty strings for every question (bitsandbytes with
    some GPUs and versions): fail the batch instead of scoring a silent zero."""
    if options.quantization != "none" and outputs and not any(o.strip() for o in outputs):
        raise BenchError(
            f"backend {options.name}: the {options.quantization}-quantized model returned an empty answer for all "
            f"{len(outputs)} requests of a batch (a known bitsandbytes failure); not scoring empty answers as "
            "wrong: run with backend.quantization=none (or another bitsandbytes version)"
        )


def quantization_kwargs(options: HfBlip2Options, dtype: torch.dtype) -> dict[str, Any]:
    """from_pretrained arguments for backend.quantization (none: nothing)."""
    if options.quantization == "none":
        return {}
    from transformers import BitsAndBytesConfig

    if options.quantization == "8bit":
        config = BitsAndBytesConfig(load_in_8bit=True)
    else:
        config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=dtype)
    # Quantized weights are placed while loading; they cannot be moved with .to() afterwards.
    return {"quantization_config": config, "device_map": {"": resolve_device(options.device).index or 0}}


def load_kwargs(options: HfBlip2Options, dtype: torch.dtype) -> dict[str, Any]:
    """from_pretrained arguments from the options: precision, attention kernels, quantization."""
    kwargs: dict[str, Any] = {"dtype": dtype, "output_loading_info": True}
    if options.attention != "auto":
        kwargs["attn_implementation"] = options.attention
    return {**kwargs, **quantization_kwargs(options, dtype)}


def place(model: Any, options: HfBlip2Options, device: torch.device) -> Any:
    """The loaded model on its device, in eval mode, its vision encoder compiled when asked."""
    if options.quantization == "none":  # quantized weights were placed while loading
        model = model.to(device)
    model.eval()
    if options.compile:
        model.vision_model.compile()  # in place: parameter names (and fingerprints) stay as loaded
    return model


def kernels_record(model: Any, options: HfBlip2Options) -> dict[str, Any]:
    """The attention implementation each part really runs (transformers may fall back to eager),
    and what was compiled."""
    parts = ("vision_model", "qformer", "language_model", "text_encoder")
    attention = {
        part: getattr(getattr(getattr(model, part), "config", None), "_attn_implementation", None)
        for part in parts
        if hasattr(model, part)
    }
    return {"attention": attention, "compiled": "vision_model" if options.compile else None}


def hf_identity(options: HfBlip2Options, dtype: torch.dtype) -> dict[str, Any]:
    """The identity both HF backends give the journal: weights, precision, device type, input size."""
    return {
        "weights": weights_identity(options.model, options.revision),
        "dtype": str(dtype),
        "device_type": resolve_device(options.device).type,
        "batch_size": options.batch_size,
        "image_size": options.image_size,
        "family": options.family,
        "torchvision": torchvision_version(),
        **({"quantization": options.quantization} if options.quantization != "none" else {}),
        # Kernels change floats, not the protocol; recorded only when chosen (older journals stay valid).
        **({"attention": options.attention} if options.attention != "auto" else {}),
        **({"compile": True} if options.compile else {}),
    }


def pixel_values(image_processor: Any, image: Image.Image) -> torch.Tensor:
    """One image as the image processor makes it, (C, H, W) float32 on CPU: the same values as
    its row of a batch call (the processor works image by image); run in the decode threads."""
    return image_processor(image, return_tensors="pt")["pixel_values"][0]


def pixel_batch(image_processor: Any, images: Sequence[Any], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Images, PIL or already `pixel_values`, as one batch on the device (pinned: an async copy to a GPU)."""
    pixels = torch.stack([im if isinstance(im, torch.Tensor) else pixel_values(image_processor, im) for im in images])
    if device.type == "cuda":
        pixels = pixels.pin_memory()
    return pixels.to(device, dtype, non_blocking=True)


def lavis_image_processor(model: str, size: int, **kwargs: Any) -> Any:
    """The checkpoint's image processor on transformers' PIL backend, pinned to S x S bicubic.

    LAVIS resizes PIL images (torchvision's Resize on a PIL image calls PIL's bicubic);
    transformers would pick its torchvision backend whenever torchvision imports, which
    resizes tensors with antialiased bicubic and gives slightly different pixels.
    """
    from transformers import AutoImageProcessor

    image_processor = AutoImageProcessor.from_pretrained(model, backend="pil", **kwargs)
    pin_image_size(image_processor, size)
    return image_processor


def pin_image_size(image_processor: Any, size: int) -> None:
    """The checkpoint's processor decides nothing: the protocol's S x S bicubic resize, no crop."""
    image_processor.size = {"height": size, "width": size}
    image_processor.resample = Image.Resampling.BICUBIC
    image_processor.do_center_crop = False


def torchvision_version() -> str | None:
    try:
        import torchvision  # noqa: F401

        return str(torchvision.__version__)
    except Exception:  # absent, or (as with a CPU torch wheel) present but not importable
        return None


def image_processing_record(image_processor: Any) -> dict[str, Any]:
    """Which image backend ran (the torchvision or the PIL processor class) and its settings."""
    ip = image_processor
    return {
        "class": type(ip).__name__,
        "size": dict(ip.size),
        "resample": int(ip.resample),
        "mean": list(ip.image_mean),
        "std": list(ip.image_std),
        "torchvision": torchvision_version(),
    }


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def generation_kwargs(settings: Any, pad_token_id: int | None, eos_token_id: Any = None) -> dict[str, Any]:
    """`generate` arguments for a request's settings (both HF generation backends)."""
    kwargs: dict[str, Any] = {
        "do_sample": False,
        "num_beams": settings.num_beams,
        # Always in new tokens: HF's max_length/min_length would count the prompt and queries.
        "max_new_tokens": settings.max_new_tokens,
        "min_new_tokens": settings.min_new_tokens,
        "length_penalty": settings.length_penalty,
        "repetition_penalty": settings.repetition_penalty,
        "pad_token_id": pad_token_id,
    }
    if eos_token_id is not None:
        kwargs["eos_token_id"] = eos_token_id
    return kwargs


def generate_after_queries(
    backend: Any, features: torch.Tensor, prompts: Sequence[str], settings: Any, ids: Sequence[str], decoder_only: bool
) -> list[str]:
    """Generate from [query embeddings][padding][prompt], as the HF processors and LAVIS lay the
    input out; `backend` has model, tokenizer, device, num_query_tokens, image_token_id and
    `_generation_kwargs(settings)`. A decoder-only LM's positions must hold queries + prompt + new
    tokens (checked per sample before generating)."""
    text = backend.tokenizer(list(prompts), padding=True, return_tensors="pt")
    queries = backend.num_query_tokens
    limit = getattr(backend.model.config.text_config, "max_position_embeddings", None)
    if decoder_only and limit is not None:  # T5's relative positions have no hard limit
        for length, name in zip(text.attention_mask.sum(dim=1).tolist(), list(ids) or list(prompts), strict=True):
            if queries + length + settings.max_new_tokens > limit:
                raise BadInputError(
                    f"sample {name[:60]}: prompt of {length} tokens: with {queries} queries and "
                    f"{settings.max_new_tokens} new tokens it exceeds the model's {limit} positions"
                )
    image_ids = torch.full((len(prompts), queries), backend.image_token_id, dtype=torch.long)
    input_ids = torch.cat([image_ids, text.input_ids], dim=1).to(backend.device)
    attention = torch.cat([torch.ones_like(image_ids), text.attention_mask], dim=1).to(backend.device)
    embeds = backend.model.get_input_embeddings()(input_ids)
    mask = (input_ids == backend.image_token_id).unsqueeze(-1)
    embeds = embeds.masked_scatter(mask, features.to(embeds.device, embeds.dtype))
    with warnings.catch_warnings():
        # transformers warns that a penalty then sees the new tokens only: LAVIS's behaviour, meant.
        warnings.filterwarnings("ignore", message=".*repetition_penalty.*inputs_embeds", category=UserWarning)
        output_ids = backend.model.language_model.generate(
            inputs_embeds=embeds, attention_mask=attention, **backend._generation_kwargs(settings)
        )
    # From embeddings alone, decoder-only models return new tokens only: no prompt to strip.
    return [t.strip() for t in backend.tokenizer.batch_decode(output_ids, skip_special_tokens=True)]
