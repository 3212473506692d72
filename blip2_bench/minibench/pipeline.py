"""Train all shipped pairings, then (optionally) score them and their random twins and write the model cards."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .build import DEFAULT_SEED, make_minibench, training_scenes
from .cards import RECORD, write_card
from .measure import score_pair
from .models import MODELS_DIR, SPECS
from .train import DEFAULT_STEPS, TrainConfig, deterministic, pixel_values, save_random_twin, train_one

log = logging.getLogger(__name__)

CACHE = Path(".cache/minibench")


def train_all(
    out_root: Path = MODELS_DIR,
    names: Sequence[str] = tuple(SPECS),
    seed: int = DEFAULT_SEED,
    steps: dict[str, int] | None = None,
) -> dict[str, dict[str, Any]]:
    """Train each pairing into out_root/<name> (cards without scores); returns the training records."""
    deterministic()
    started = time.perf_counter()
    n_scenes = TrainConfig(steps=0).n_scenes
    scenes = training_scenes(n_scenes, seed)
    image_sizes = {SPECS[n].image_size for n in names}
    pixels = {size: pixel_values(scenes, size) for size in image_sizes}
    records = {}
    for name in names:
        cfg = TrainConfig(steps=(steps or DEFAULT_STEPS)[name], seed=seed, n_scenes=n_scenes)
        records[name] = train_one(name, out_root / name, cfg, scenes, pixels[SPECS[name].image_size])
        write_card(out_root / name, records[name], None)
    log.info("trained %s in %.0f s", ", ".join(names), time.perf_counter() - started)
    return records


def score_all(
    model_root: Path = MODELS_DIR, names: Sequence[str] = tuple(SPECS), cache: Path = CACHE, seed: int = DEFAULT_SEED
) -> dict[str, dict[str, Any]]:
    """Run the trained models and their random twins through `blip2-bench`; rewrite the cards with the scores."""
    data_root = make_minibench(cache / "data", seed)
    out = {}
    for name in names:
        model_dir = model_root / name
        record = json.loads((model_dir / RECORD).read_text(encoding="utf-8"))["training"]
        twin = save_random_twin(name, cache / "random" / name, record["train_config"]["seed"])
        out[name] = score_pair(
            name, model_dir.resolve(), twin.resolve(), data_root.resolve(), (cache / "runs").resolve()
        )
        write_card(model_dir, record, out[name])
    return out
