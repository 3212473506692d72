"""Pieces both HF BLIP-2 backends share: device, dtype names, image preprocessing and its record."""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


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
