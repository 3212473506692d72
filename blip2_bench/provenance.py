"""What a result was made from: versions, git sha, file hashes, sample-set id."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "blip2-bench",
    "torch",
    "transformers",
    "tokenizers",
    "datasets",
    "pycocoevalcap",
    "numpy",
    "pillow",
    "hydra-core",
    "omegaconf",
    "pandas",
)
# Files above this size are fingerprinted from their size and both ends, not read whole.
FULL_HASH_LIMIT = 256 * 2**20
_EDGE = 4 * 2**20


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_sha() -> str | None:
    """The blip2-bench source's commit, with '+dirty' when the work tree has changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def file_hash(path: Path) -> str:
    """sha256 of the file, or for very large files "partial-sha256:" of size and both ends."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with path.open("rb") as f:
        if size <= FULL_HASH_LIMIT:
            for block in iter(lambda: f.read(2**20), b""):
                digest.update(block)
            return "sha256:" + digest.hexdigest()
        digest.update(str(size).encode())
        digest.update(f.read(_EDGE))
        f.seek(size - _EDGE)
        digest.update(f.read(_EDGE))
    return "partial-sha256:" + digest.hexdigest()


def data_file_hashes(files: dict[str, Path]) -> dict[str, dict[str, str]]:
    out = {}
    for role, path in files.items():
        out[role] = {"path": str(path), "hash": file_hash(path) if path.is_file() else "directory"}
    return out


def weights_fingerprint(folder: Path) -> dict[str, str]:
    """Hashes of a local checkpoint's weight and config files."""
    names = sorted(p for p in folder.iterdir() if p.suffix in {".safetensors", ".bin", ".json"} and p.is_file())
    return {p.name: file_hash(p) for p in names}


def sample_set_id(sample_ids: Iterable[str]) -> str:
    """Order-independent id of exactly which samples were evaluated."""
    digest = hashlib.sha256()
    for sid in sorted(sample_ids):
        digest.update(sid.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def environment() -> dict[str, Any]:
    return {"versions": package_versions(), "git_sha": git_sha(), "platform": platform.platform(), "argv": sys.argv}


def weights_identity(model: str, revision: str | None) -> dict[str, Any]:
    """What pins the weights without loading them: file hashes of a local folder, or the
    hub snapshot's commit when it is in the local cache."""
    folder = Path(model).expanduser()
    if folder.is_dir():
        return {"local": str(folder.resolve()), "files": weights_fingerprint(folder)}
    try:
        from huggingface_hub import snapshot_download

        snapshot = snapshot_download(model, revision=revision, local_files_only=True)
        return {"hub": model, "commit": Path(snapshot).name}
    except Exception:  # not cached here (yet): the revision is all we know
        return {"hub": model, "revision": revision}


def short_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]
