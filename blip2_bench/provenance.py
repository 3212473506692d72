"""What a result was made from: versions, git sha, file hashes, sample-set id."""

from __future__ import annotations

import hashlib
import json
import os
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


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_sha() -> str | None:
    """The blip2-bench checkout's commit, '+dirty' when its code, configs or tasks differ from it
    (untracked files included); None for an installed wheel, which has no checkout."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():  # e.g. site-packages inside some other checkout's .venv
        return None
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "blip2_bench", "conf", "tasks"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def _stat_key(path: Path) -> str:
    # ctime and inode too: an edit that restores size and mtime (os.utime) still changes ctime,
    # which no user call can set, so a cached hash is never taken for edited contents.
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_ino}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(2**22), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def file_hash(path: Path) -> str:
    """sha256 of the whole file; cached by (path, size, mtime, ctime, inode) so multi-GB weights hash once."""
    return file_hashes([path])[path]


def file_hashes(paths: Iterable[Path], progress: str | None = None) -> dict[Path, str]:
    """sha256 of many files (e.g. 40k images), through the same cache, which is saved once."""
    from tqdm import tqdm

    cache = _hash_cache()
    out: dict[Path, str] = {}
    changed = False
    paths = list(paths)
    for path in tqdm(paths, desc=progress, unit="file", disable=progress is None or len(paths) < 1000):
        key = _stat_key(path)
        if key not in cache:
            cache[key] = _sha256(path)
            changed = True
        out[path] = cache[key]
    if changed:
        _save_hash_cache(cache)
    return out


def _hash_cache_path() -> Path:
    from .paths import user_cache_dir

    return user_cache_dir() / "file-hashes.json"


_HASHES: dict[str, str] | None = None


def _hash_cache() -> dict[str, str]:
    global _HASHES
    if _HASHES is None:
        try:
            _HASHES = json.loads(_hash_cache_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            _HASHES = {}
    return _HASHES


def _save_hash_cache(cache: dict[str, str]) -> None:
    path = _hash_cache_path()
    try:
        # Merge with what other processes saved meanwhile, so concurrent runs do not drop entries.
        try:
            cache.update({**json.loads(path.read_text(encoding="utf-8")), **cache})
        except (OSError, ValueError):
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # a read-only home only costs re-hashing next time
        pass


def image_content_hashes(sources: Iterable[Any]) -> dict[str, str | None]:
    """Image key -> content hash (file sha256, or sha256 of in-memory bytes); None for a missing file."""
    by_key: dict[str, str | None] = {}
    paths: dict[str, Path] = {}
    for source in sources:
        if source.key in by_key or source.key in paths:
            continue
        if source.data is not None:
            by_key[source.key] = "sha256:" + hashlib.sha256(source.data).hexdigest()
        elif source.path is not None and Path(source.path).is_file():
            paths[source.key] = Path(source.path)
        else:
            by_key[source.key] = None
    hashes = file_hashes(paths.values(), progress="hashing images")
    by_key.update({key: hashes[path] for key, path in paths.items()})
    return by_key


def data_file_hashes(files: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """sha256 of each data file; a folder (e.g. parquet shards) gets one hash of its files'."""
    out: dict[str, dict[str, Any]] = {}
    for role, path in files.items():
        if path.is_dir():
            members = sorted(p for p in path.rglob("*") if p.is_file())
            digest = short_hash({str(p.relative_to(path)): file_hash(p) for p in members})
            out[role] = {"path": str(path.resolve()), "hash": f"folder:{digest}", "files": len(members)}
        else:
            out[role] = {"path": str(path.resolve()), "hash": file_hash(path)}
    return out


def weights_fingerprint(folder: Path) -> dict[str, str]:
    """Hashes of a local checkpoint's weight and config files."""
    suffixes = {".safetensors", ".bin", ".json", ".model", ".txt"}  # weights, configs, tokenizer files
    names = sorted(p for p in folder.iterdir() if p.suffix in suffixes and p.is_file())
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
    """What pins the weights without loading them: file hashes of a local folder, or the hub
    id and revision as asked (the resolved commit goes to provenance, not to this key: it is
    unknown before the first download and may differ between nodes' caches)."""
    folder = Path(model).expanduser()
    if folder.is_dir():
        return {"local": str(folder.resolve()), "files": weights_fingerprint(folder)}
    return {"hub": model, "revision": revision}


def short_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]
