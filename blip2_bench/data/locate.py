"""Find a dataset file or folder under data_root, as users lay it out (the one folder search)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

COCO_IMAGE_ROOTS = ("", "coco/images", "images")
"""Folders under data_root that may hold COCO's val2014/ (official download, LAVIS, a COCO folder)."""


def find_in_root(
    root: Path,
    names: Sequence[str],
    folders: Sequence[str] = ("",),
    *,
    explicit: str | None = None,
    folder: bool = False,
    holding: str | None = None,
) -> Path:
    """An explicit path wins; else the first root/<folder>/<name> that exists, trying folders in
    order and names within each (a file, or with `folder=True` a directory, holding `holding` if
    given); else the first candidate, so the caller's "not found" names a sensible path."""
    if explicit:
        return Path(explicit)
    for where in folders:
        for name in names:
            candidate = root / where / name  # Path ignores empty parts
            if folder:
                if candidate.is_dir() and (holding is None or (candidate / holding).is_dir()):
                    return candidate
            elif candidate.is_file():
                return candidate
    return root / folders[0] / names[0]
