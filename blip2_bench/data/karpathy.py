"""What Karpathy's dataset_coco.json and dataset_flickr30k.json share: raw captions per image."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from .json_files import require_keys, require_list, require_type


def raw_captions(image: Mapping[str, Any], path: Path, where: str, name: str) -> list[str]:
    """The `raw` strings of an image's `sentences` (messy as written; never assume 5)."""
    sentences = require_list(image["sentences"], path, f"{where}.sentences")
    if not sentences:
        raise BadInputError(f"{path}: {where}: image {name} has no captions")
    captions = []
    for j, sentence in enumerate(sentences):
        require_keys(sentence, ["raw"], path, f"{where}.sentences[{j}]")
        captions.append(require_type(sentence["raw"], str, path, f"{where}.sentences[{j}].raw"))
    return captions
