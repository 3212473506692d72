"""Dataclass schemas for each config section, validated before any model loads."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .errors import BadInputError
from .registry import unknown_name_message

S = TypeVar("S")

# opt: decoder-only LLM; t5: encoder-decoder LLM; itm: retrieval model (no LLM).
FAMILIES = ("opt", "t5", "itm")
DTYPES = ("auto", "float32", "float16", "bfloat16")
BAD_IMAGE_POLICIES = ("fail", "skip")
# Keys that change how a run proceeds but not its results: left out of the run's identity.
NON_IDENTITY_KEYS = ("fresh", "dist_timeout_minutes")


@dataclass(frozen=True)
class BackendConfig:
    """One encoder/LLM pairing: which implementation runs which weights, and how."""

    name: str
    """Pairing id; the key results are filed under."""
    impl: str = "hf_blip2"
    """Registered backend implementation."""
    model: str = ""
    """Hub id or local folder of the weights."""
    revision: str | None = None
    """Hub revision (branch, tag or commit) to pin."""
    family: str = "opt"
    """LLM family: decides prompts, padding side and stopping ("itm" for retrieval models)."""
    image_size: int = 224
    """Square input size the checkpoint was trained at (224 zero-shot, 364 -coco)."""
    dtype: str = "auto"
    """auto = the paper's precision on GPU (OPT fp16, Flan-T5 bf16), fp32 on CPU."""
    device: str = "auto"
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise BadInputError(f"backend.family must be one of {FAMILIES}, got {self.family!r}")
        if self.dtype not in DTYPES:
            raise BadInputError(f"backend.dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.family == "t5" and self.dtype == "float16":
            raise BadInputError(
                "backend.dtype=float16 is refused for Flan-T5 (it overflows to NaN and garbage); "
                "use bfloat16 or float32"
            )
        if self.batch_size < 1:
            raise BadInputError(f"backend.batch_size must be >= 1, got {self.batch_size}")
        if not self.model:
            raise BadInputError("backend.model is empty: give a hub id or a local folder")


@dataclass(frozen=True)
class RunConfig:
    """Top-level run settings (each task's own options are validated by the task)."""

    data_root: str = "data"
    limit: int | None = None
    """Evaluate only the first N samples of each task (file order)."""
    task_dirs: list[str] = field(default_factory=list)
    """Extra folders of task plugins, searched after the built-in tasks/."""
    on_bad_image: str = "fail"
    """fail: a corrupt or missing image stops the run; skip: drop it and report its id."""
    fresh: bool = False
    """Recompute everything: clear the run directory's journal and final files first."""
    dist_timeout_minutes: float = 360.0
    """How long data-parallel ranks wait for each other (a slow shard must not time out)."""

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise BadInputError(f"limit must be >= 1, got {self.limit}")
        if self.on_bad_image not in BAD_IMAGE_POLICIES:
            raise BadInputError(f"on_bad_image must be one of {BAD_IMAGE_POLICIES}, got {self.on_bad_image!r}")


def validate_section(schema: type[S], section: Any, where: str) -> S:
    """Check a raw config section against a dataclass schema; unknown keys and bad types fail."""
    if section is None:
        section = {}
    if not isinstance(section, (dict, DictConfig)):
        raise BadInputError(f"config error in {where}: expected a mapping, got {section!r}")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), section)
        values = OmegaConf.to_container(merged, resolve=True)
    except OmegaConfBaseException as exc:
        first_line = str(exc).splitlines()[0]
        raise BadInputError(f"config error in {where}: {first_line}") from None
    assert isinstance(values, dict)
    return schema(**values)


def split_run_config(cfg: DictConfig) -> tuple[RunConfig, BackendConfig, dict[str, Any]]:
    """Validate the top level and the backend; return the raw per-task sections."""
    raw = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(raw, dict)
    raw.pop("hydra", None)
    backend = validate_section(BackendConfig, raw.pop("backend", None), "backend")
    tasks = raw.pop("task", None) or {}
    if not isinstance(tasks, dict) or not tasks:
        raise BadInputError("no task selected: pass e.g. 'task=[vqav2]'")
    run_keys = {f.name for f in fields(RunConfig)}
    unknown = sorted(set(raw) - run_keys)
    if unknown:
        raise BadInputError("config error: " + unknown_name_message("top-level key", unknown[0], run_keys))
    return validate_section(RunConfig, raw, "top level"), backend, tasks
