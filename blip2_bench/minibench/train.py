"""Train the three pairings on the mini benchmark's training split, bit-reproducibly on CPU."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from tqdm import tqdm

from ..demo.tiny_models import tiny_image_processor
from .batches import COLLATE, generator_examples, retrieval_texts
from .build import DEFAULT_SEED, training_scenes
from .forward import generator_logits, image_features, itm_logits, text_features
from .losses import hard_negatives, itc_loss, itc_similarity, itm_loss, lm_loss
from .models import SPECS, Spec, build, n_parameters, save
from .scenes import Scene, decoded

log = logging.getLogger(__name__)

THREADS = 2
"""Fixed thread count: results are bit-identical run to run at this count (on one CPU type)."""
MAX_TEXT_TOKENS = 35  # as the retrieval backend truncates


@dataclass(frozen=True)
class TrainConfig:
    steps: int
    batch_images: int = 64
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 0.01
    n_scenes: int = 6000
    seed: int = DEFAULT_SEED
    """Data seed (the benchmark's); the weight-init seed is the same number."""
    temperature: float = 0.07
    """ITC temperature (retrieval only)."""


DEFAULT_STEPS = {"mini-opt": 1000, "mini-t5": 1000, "mini-itm": 800}


def deterministic(threads: int = THREADS) -> None:
    """Same inputs, same bits: deterministic kernels and a fixed thread count."""
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)


def pixel_values(scenes: Sequence[Scene], image_size: int, chunk: int = 256) -> torch.Tensor:
    """Scenes rendered, JPEG round-tripped and preprocessed exactly as the backend preprocesses test files."""
    processor = tiny_image_processor(image_size)
    # As backends/common.py pin_image_size: S x S bicubic, no crop.
    processor.size = {"height": image_size, "width": image_size}
    processor.resample = Image.Resampling.BICUBIC
    processor.do_center_crop = False
    out = []
    for start in tqdm(range(0, len(scenes), chunk), desc="images", leave=False):
        images = [decoded(s, image_size) for s in scenes[start : start + chunk]]
        out.append(processor(images, return_tensors="pt")["pixel_values"])
    return torch.cat(out)


def _schedule(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))


def _optimizer(params: Sequence[torch.nn.Parameter], cfg: TrainConfig) -> tuple[Any, Any]:
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _schedule(s, cfg))


def generator_step(
    model: Any, processor: Any, spec: Spec, scenes: Sequence[Scene], pixels: torch.Tensor, rng: random.Random
) -> torch.Tensor:
    """The loss of one batch: a caption and two questions per image, in the harness's prompt formats."""
    tok = processor.tokenizer
    examples = generator_examples(scenes, spec.family, rng)
    batch = COLLATE[spec.family](examples, tok, spec.num_query_tokens, model.config.image_token_id)
    out = generator_logits(model, pixels, batch, spec.family)
    if spec.family == "opt":
        return lm_loss(out, batch["labels"], shift=True)
    return out[0]


def retrieval_step(
    model: Any,
    processor: Any,
    scenes: Sequence[Scene],
    pixels: torch.Tensor,
    rng: random.Random,
    generator: torch.Generator,
    cfg: TrainConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    """ITC over the batch plus ITM on positives and one hard negative per image and per text."""
    texts = retrieval_texts(scenes, rng)
    tokens = processor.tokenizer(
        texts, padding="longest", truncation=True, max_length=MAX_TEXT_TOKENS, return_tensors="pt"
    )
    ids, mask = tokens["input_ids"], tokens["attention_mask"]
    img, vision = image_features(model, pixels)
    txt = text_features(model, ids, mask)
    sim = itc_similarity(img, txt)
    same = torch.tensor([[a == b for b in texts] for a in texts])
    loss_itc = itc_loss(sim, cfg.temperature, same)
    neg_text, neg_image = hard_negatives(sim.detach(), same, generator)
    n = len(texts)
    all_vision = torch.cat([vision, vision, vision[neg_image]])
    all_ids = torch.cat([ids, ids[neg_text], ids])
    all_mask = torch.cat([mask, mask[neg_text], mask])
    labels = torch.cat([torch.ones(n, dtype=torch.long), torch.zeros(2 * n, dtype=torch.long)])
    loss_itm = itm_loss(itm_logits(model, all_vision, all_ids, all_mask), labels)
    return loss_itc + loss_itm, {"itc": loss_itc.item(), "itm": loss_itm.item()}


def train_one(
    name: str,
    out_dir: Path,
    cfg: TrainConfig,
    scenes: Sequence[Scene] | None = None,
    pixels: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Train pairing `name` from its seeded random init, save it to `out_dir`; return a training record."""
    deterministic()
    spec = SPECS[name]
    started = time.perf_counter()
    if scenes is None:
        scenes = training_scenes(cfg.n_scenes, cfg.seed)
    if pixels is None:
        pixels = pixel_values(scenes, spec.image_size)
    model, processor = build(spec, cfg.seed)
    model.train()
    torch.manual_seed(cfg.seed)  # dropout
    rng = random.Random(f"train:{name}:{cfg.seed}")
    generator = torch.Generator().manual_seed(cfg.seed)
    opt, sched = _optimizer([p for p in model.parameters() if p.requires_grad], cfg)
    losses: list[float] = []
    bar = tqdm(range(cfg.steps), desc=name, mininterval=5)
    for step in bar:
        index = rng.sample(range(len(scenes)), cfg.batch_images)
        batch_scenes, batch_pixels = [scenes[i] for i in index], pixels[index]
        if spec.family == "itm":
            loss, parts = retrieval_step(model, processor, batch_scenes, batch_pixels, rng, generator, cfg)
        else:
            loss, parts = generator_step(model, processor, spec, batch_scenes, batch_pixels, rng), {}
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % 100 == 0 or step == cfg.steps - 1:
            recent = sum(losses[-100:]) / len(losses[-100:])
            bar.set_postfix(loss=f"{recent:.3f}", **{k: f"{v:.3f}" for k, v in parts.items()})
            log.info("%s step %d loss %.4f %s", name, step, recent, parts)
    save(model, processor, out_dir)
    seconds = time.perf_counter() - started
    return {
        "name": name,
        "family": spec.family,
        "parameters": n_parameters(model),
        "train_config": asdict(cfg),
        "spec": asdict(spec),
        "final_loss": sum(losses[-100:]) / len(losses[-100:]),
        "first_loss": losses[0],
        "seconds": round(seconds, 1),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def save_random_twin(name: str, out_dir: Path, seed: int = DEFAULT_SEED) -> Path:
    """The untrained model (same architecture, tokenizer and init seed) the trained one is compared with."""
    model, processor = build(SPECS[name], seed)
    return save(model, processor, out_dir)
