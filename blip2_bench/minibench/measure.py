"""Score pairings on the mini benchmark through the real `blip2-bench` command, and time the runs."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .models import SPECS

log = logging.getLogger(__name__)

GENERATION_TASKS = ("vqav2", "coco_caption", "nocaps")
RETRIEVAL_TASKS = ("flickr30k",)


def tasks_for(name: str) -> tuple[str, ...]:
    return RETRIEVAL_TASKS if SPECS[name].family == "itm" else GENERATION_TASKS


def _command() -> list[str]:
    exe = Path(sys.executable).with_name("blip2-bench")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "blip2_bench.cli"]


@dataclass(frozen=True)
class RunResult:
    name: str
    model: str
    run_dir: Path
    seconds: float
    results: dict[str, Any]

    def headline(self) -> dict[str, dict[str, float]]:
        """task -> the run's table numbers (results.json tasks.<task>.table)."""
        return {task: dict(info.get("table", {})) for task, info in self.results.get("tasks", {}).items()}


def run_cli(
    name: str,
    model_dir: Path,
    data_root: Path,
    run_dir: Path,
    tasks: Sequence[str] | None = None,
    extra: Sequence[str] = (),
) -> RunResult:
    """One `blip2-bench` run of pairing `name` (conf/backend/<name>.yaml) with its weights at `model_dir`."""
    spec = SPECS[name]
    tasks = tuple(tasks or tasks_for(name))
    if run_dir.exists():
        shutil.rmtree(run_dir)
    args = [
        f"backend={name}",
        f"backend.model={model_dir}",
        f"backend.image_size={spec.image_size}",
        f"data_root={data_root}",
        f"task=[{','.join(tasks)}]",
        f"hydra.run.dir={run_dir}",
        *extra,
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    proc = subprocess.run([*_command(), *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"blip2-bench {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    log.info("%s (%s): %.1f s", name, model_dir, seconds)
    return RunResult(name, str(model_dir), run_dir, round(seconds, 1), results)


def score_pair(name: str, trained: Path, twin: Path, data_root: Path, runs_root: Path) -> dict[str, Any]:
    """Trained model and random-weight twin on the same samples: {"trained": ..., "random": ..., "seconds": ...}."""
    a = run_cli(name, trained, data_root, runs_root / name / "trained")
    b = run_cli(name, twin, data_root, runs_root / name / "random")
    return {"trained": a.headline(), "random": b.headline(), "seconds": {"trained": a.seconds, "random": b.seconds}}
