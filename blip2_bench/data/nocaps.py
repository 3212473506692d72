"""NoCaps files from nocaps.org: `nocaps_val_4500_captions.json` (COCO caption format plus a
`domain` per image) and the test image info file (no captions: export only)."""

from __future__ import annotations

from pathlib import Path

from ..errors import BadInputError
from ..metrics.captions import DOMAINS
from ..types import ImageSource
from .coco_captions import CaptionSample, CocoCaptionFile, read_coco_caption_file
from .json_files import require_keys, require_type


def domains_of(doc: CocoCaptionFile, required: bool = True) -> dict[int, str]:
    """image id -> domain, read from each image record (never inferred from ids or counts)."""
    domains: dict[int, str] = {}
    for image_id, image in doc.images.items():
        where = f"image id {image_id}"
        if "domain" not in image:
            if required:
                raise BadInputError(f"{doc.path}: {where} lacks 'domain' (expected the NoCaps val file)")
            continue
        domain = require_type(image["domain"], str, doc.path, f"{where}.domain")
        if domain not in DOMAINS:
            raise BadInputError(f"{doc.path}: {where}: unknown domain {domain!r} (expected one of {DOMAINS})")
        domains[image_id] = domain
    return domains


def load_nocaps(path: Path, image_dir: Path, with_captions: bool, limit: int | None = None) -> list[CaptionSample]:
    """Images in file order; image files are `<image_dir>/<file_name>` (nocaps.org's val/ or test/)."""
    doc = read_coco_caption_file(path, "NoCaps file", require_captions=with_captions)
    domains = domains_of(doc, required=with_captions)
    samples: list[CaptionSample] = []
    for image_id, image in doc.images.items():
        require_keys(image, ["file_name"], path, f"image id {image_id}")
        file_name = require_type(image["file_name"], str, path, f"image id {image_id}.file_name")
        samples.append(
            CaptionSample(
                image_id,
                ImageSource(f"nocaps:{image_id}", path=str(image_dir / file_name)),
                doc.refs[image_id] if with_captions else None,
                domains.get(image_id),
            )
        )
        if limit and len(samples) == limit:
            break
    return samples
