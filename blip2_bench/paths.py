"""Where the shipped conf/ and tasks/ folders are, in a checkout and in an installed wheel."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    # A wheel carries them inside the package as blip2_bench/_shipped/<name> (pyproject's
    # package-dir); a checkout or an editable install has them beside the package.
    for candidate in (_PACKAGE / "_shipped" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"blip2-bench installation lacks its {name}/ folder")


def conf_dir() -> Path:
    return _shipped("conf")


def builtin_tasks_dir() -> Path:
    return _shipped("tasks")


def minibench_model_dir(name: str) -> Path:
    """A trained mini pairing shipped in the package (conf/backend/mini-*.yaml), from any working directory."""
    return _PACKAGE / "minibench" / "models" / name


def user_cache_dir() -> Path:
    """Per-user cache (file hashes, the index of journals): $BLIP2_BENCH_CACHE or ~/.cache/blip2-bench."""
    root = os.environ.get("BLIP2_BENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "blip2-bench"
    )
    return Path(root)
