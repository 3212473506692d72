"""Open images as the paper's code does: PIL, whatever the extension says, converted to RGB."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from .errors import BadInputError
from .types import ImageSource


def load_rgb(source: ImageSource, sample_id: str) -> Image.Image:
    """Decode fully (so truncated files fail here, not in the model) and convert to RGB.

    Real COCO holds grayscale and CMYK JPEGs and PNG bytes named .jpg, so the mode and
    the extension are never trusted.
    """
    where = f"{source.describe()} (sample {sample_id})"
    try:
        if source.data is not None:
            image = Image.open(io.BytesIO(source.data))
        elif source.path is not None:
            image = Image.open(source.path)
        else:
            raise BadInputError(f"image of sample {sample_id} has neither a path nor bytes")
        image.load()
        if image.mode == "RGB" and getattr(image, "n_frames", 1) == 1:
            # convert() of an RGB image is a plain copy, which can cost as much as decoding it.
            # Multi-frame files (MPO) are still copied: Pillow may keep them open for seeking.
            return image
        return image.convert("RGB")
    except FileNotFoundError:
        raise BadInputError(f"image not found: {where}") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise BadInputError(f"corrupt or unreadable image: {where}: {exc}") from None
