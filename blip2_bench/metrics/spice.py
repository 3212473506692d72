"""Java discovery for the caption scorers, and SPICE 1.0 run only when it can really run.

pycocoevalcap's ``Spice()`` downloads Stanford CoreNLP on construction
(``spice/get_stanford_models.py``), so it is never called here. Instead the jars are
looked for where pycocoevalcap keeps them (``pycocoevalcap/spice/``: ``spice-1.0.jar`` plus
``lib/stanford-corenlp-3.6.0.jar`` and ``lib/stanford-corenlp-3.6.0-models.jar``; the pip
package ships everything but the two CoreNLP jars), or in ``$BLIP2_BENCH_SPICE_DIR``, and
SPICE is run with the command line ``Spice.compute_score`` uses (minus its LMDB cache, which
changes no score and is a known source of native-library failures).

SPICE 1.0 dies on Java >= 16 (strong encapsulation: "InaccessibleObjectException ...
java.lang.String.value", e.g. tylin/coco-caption#59); it runs on Java 8/11. On newer Java it
runs only with JVM options the user opts into via ``$BLIP2_BENCH_SPICE_JVM_OPTS``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import BadInputError, BenchError
from .jvm import die_with_parent

SPICE_DIR_ENV = "BLIP2_BENCH_SPICE_DIR"
SPICE_JVM_OPTS_ENV = "BLIP2_BENCH_SPICE_JVM_OPTS"
SPICE_JARS = ("spice-1.0.jar", "lib/stanford-corenlp-3.6.0.jar", "lib/stanford-corenlp-3.6.0-models.jar")
SPICE_MODES = ("auto", "off")
# First Java release that denies reflective access by default (JEP 396).
_STRONG_ENCAPSULATION = 16


class JavaNotFoundError(BadInputError):
    """No `java` on PATH: the PTB tokenizer and METEOR (and SPICE) cannot run."""


class ScorerFailedError(BenchError):
    """A Java scorer subprocess failed or answered something unreadable."""


def find_java() -> str:
    """The `java` pycocoevalcap would run (it calls plain "java" from PATH)."""
    java = shutil.which("java")
    if java is None:
        raise JavaNotFoundError(
            "Java not found on PATH: the caption metrics (pycocoevalcap's PTB tokenizer and METEOR 1.5) "
            "run Java; install a Java runtime (e.g. `apt-get install default-jre-headless`) and retry"
        )
    return java


@lru_cache(maxsize=8)
def java_version(java: str) -> str:
    """The version string `java -version` prints ("17.0.15", "1.8.0_312"); cached per executable."""
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ScorerFailedError(f"cannot run {java} -version: {exc}") from None
    match = re.search(r'version "([^"]+)"', proc.stderr + proc.stdout)
    if proc.returncode != 0 or match is None:
        raise ScorerFailedError(f"{java} -version failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
    return match.group(1)


def java_major(version: str) -> int:
    """Feature release of a Java version string: "1.8.0_312" -> 8, "17.0.15" -> 17."""
    parts = re.findall(r"\d+", version)
    if not parts:
        raise ScorerFailedError(f"unrecognised Java version {version!r}")
    return int(parts[1]) if parts[0] == "1" and len(parts) > 1 else int(parts[0])


def spice_dir() -> Path:
    override = os.environ.get(SPICE_DIR_ENV)
    if override:
        return Path(override)
    import pycocoevalcap  # a namespace package: __path__, not __file__

    return Path(next(iter(pycocoevalcap.__path__))) / "spice"


@dataclass(frozen=True)
class SpiceStatus:
    available: bool
    reason: str
    """Why SPICE is not computed (empty when it is)."""
    java: str | None = None
    jvm_opts: tuple[str, ...] = ()
    folder: Path | None = None


def spice_status(mode: str = "auto") -> SpiceStatus:
    """Whether SPICE can run here, decided without starting SPICE or downloading anything."""
    if mode not in SPICE_MODES:
        raise BadInputError(f"spice must be one of {SPICE_MODES}, got {mode!r}")
    if mode == "off":
        return SpiceStatus(False, "disabled (spice=off)")
    folder = spice_dir()
    missing = [name for name in SPICE_JARS if not (folder / name).is_file()]
    if missing:
        return SpiceStatus(
            False,
            f"SPICE 1.0 jars not found in {folder} (missing {', '.join(missing)}); blip2-bench never downloads "
            f"them: see 'Enabling SPICE' in the README",
        )
    java = shutil.which("java")
    if java is None:
        return SpiceStatus(False, "Java not found on PATH")
    version = java_version(java)
    opts = tuple(shlex.split(os.environ.get(SPICE_JVM_OPTS_ENV, "")))
    if java_major(version) >= _STRONG_ENCAPSULATION and not opts:
        return SpiceStatus(
            False,
            f"Java {version} found: SPICE 1.0 fails on Java >= {_STRONG_ENCAPSULATION} without extra JVM options; "
            f"use Java 8 or 11, or set {SPICE_JVM_OPTS_ENV}='--add-opens java.base/java.lang=ALL-UNNAMED'",
        )
    return SpiceStatus(True, "", java, opts, folder)


def run_spice(
    gts: Mapping[Hashable, list[str]], res: Mapping[Hashable, list[str]], status: SpiceStatus
) -> dict[Hashable, float]:
    """Per-image SPICE F-scores ("All" f, NaN where SPICE gives none) on tokenized captions.

    The same input file and reading of the output as pycocoevalcap's Spice.compute_score;
    the corpus SPICE there is the (NaN-propagating) mean of these values.
    """
    assert status.available and status.java and status.folder
    ids = sorted(gts)  # Spice.compute_score sorts the ids
    payload = [{"image_id": i, "test": res[i][0], "refs": gts[i]} for i in ids]
    with tempfile.TemporaryDirectory(prefix="blip2-bench-spice-") as tmp:
        in_file, out_file = Path(tmp) / "input.json", Path(tmp) / "output.json"
        in_file.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        cmd = [status.java, *status.jvm_opts, "-Xmx8G", "-jar", str(status.folder / SPICE_JARS[0])]
        cmd += [str(in_file), "-out", str(out_file), "-subset", "-silent"]
        try:
            # SPICE can run for minutes with 8 GB: a killed run must not leave it behind.
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=status.folder, preexec_fn=die_with_parent())
        except OSError as exc:
            raise ScorerFailedError(f"cannot start SPICE: {exc}") from None
        if proc.returncode != 0 or not out_file.is_file():
            tail = (proc.stderr or proc.stdout).strip()[-600:]
            raise ScorerFailedError(
                f"SPICE failed (exit {proc.returncode}): {tail} (pass spice=off / --spice off to skip SPICE)"
            )
        results = json.loads(out_file.read_text(encoding="utf-8"))
    by_id = {item["image_id"]: _as_float(item["scores"]["All"]["f"]) for item in results}
    return {i: by_id[i] for i in ids}


def spice_mean(values: Sequence[float]) -> float:
    return float(np.mean(np.array(values)))


def _as_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
