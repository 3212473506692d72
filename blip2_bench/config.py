"""Dataclass schemas for each config section, validated before any model loads."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

from .errors import BadInputError
from .registry import unknown_name_message

S = TypeVar("S")

BAD_IMAGE_POLICIES = ("fail", "skip")
BATCH_ORDERS = ("image", "length")
# Keys that change how a run proceeds but not its results: left out of the run's identity.
NON_IDENTITY_KEYS = ("fresh", "reuse_outputs", "dist_timeout_minutes", "image_workers")
# Keys added after runs were named, left out of the identity at their default: run folders
# named and claimed before them keep their names and resume.
ADDED_KEYS_DEFAULTS = {"batch_order": "image"}


def check_batch_order(order: str) -> None:
    if order not in BATCH_ORDERS:
        raise BadInputError(f"batch_order must be one of {BATCH_ORDERS}, got {order!r}")


@dataclass(frozen=True)
class RunConfig:
    """Top-level run settings (each task's and the backend's own options are validated by them)."""

    data_root: str = "data"
    limit: int | None = None
    """Evaluate only the first N samples of each task (file order)."""
    task_dirs: list[str] = field(default_factory=list)
    """Extra folders of task plugins, searched after the built-in tasks/."""
    backend_dirs: list[str] = field(default_factory=list)
    """Extra folders of backend plugins, searched after the built-in blip2_bench/backends/."""
    on_bad_image: str = "fail"
    """fail: a corrupt or missing image stops the run; skip: drop it and report its id."""
    fresh: bool = False
    """Recompute everything: clear the run directory's journal and final files first."""
    reuse_outputs: bool = True
    """Import outputs with the same key from other run directories' journals instead of recomputing."""
    dist_timeout_minutes: float = 360.0
    """How long data-parallel ranks wait for each other (a slow shard must not time out)."""
    image_workers: int = 4
    """Threads decoding the next batches' images while the model runs (0: decode in the loop)."""
    batch_order: str = "image"
    """image: whole images packed in file order; length: images sorted by their longest prompt,
    so batches pad less (a batch's members can change a generated text; see the README)."""

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise BadInputError(f"limit must be >= 1, got {self.limit}")
        if self.image_workers < 0:
            raise BadInputError(f"image_workers must be >= 0, got {self.image_workers}")
        check_batch_order(self.batch_order)
        if self.on_bad_image not in BAD_IMAGE_POLICIES:
            raise BadInputError(f"on_bad_image must be one of {BAD_IMAGE_POLICIES}, got {self.on_bad_image!r}")


def validate_section(schema: type[S], section: Any, where: str) -> S:
    """Check a raw config section against a dataclass schema; unknown keys and bad types fail."""
    if section is None:
        section = {}
    if not isinstance(section, (dict, DictConfig)):
        raise BadInputError(f"config error in {where}: expected a mapping, got {section!r}")
    known = [f.name for f in fields(schema)]  # type: ignore[arg-type]
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise BadInputError(f"config error in {where}: " + unknown_name_message("key", unknown[0], known))
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), section)
        values = OmegaConf.to_container(merged, resolve=True)
    except (ConfigKeyError, OmegaConfBaseException) as exc:
        first_line = str(exc).splitlines()[0]
        raise BadInputError(f"config error in {where}: {first_line}") from None
    assert isinstance(values, dict)
    return schema(**values)


def split_run_config(cfg: DictConfig | dict[str, Any]) -> tuple[RunConfig, Any, type, dict[str, Any]]:
    """Validate the top level and the backend (by its plugin's own schema); return the run
    settings, the backend options, the backend class and the raw per-task sections."""
    from .plugins import load_backend_class

    raw = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    assert isinstance(raw, dict)
    raw.pop("hydra", None)
    backend_section = raw.pop("backend", None)
    tasks = raw.pop("task", None) or {}
    if not isinstance(tasks, dict) or not tasks:
        raise BadInputError("no task selected: pass e.g. 'task=[vqav2]'")
    run_keys = {f.name for f in fields(RunConfig)}
    unknown = sorted(set(raw) - run_keys)
    if unknown:
        raise BadInputError("config error: " + unknown_name_message("top-level key", unknown[0], run_keys))
    run = validate_section(RunConfig, raw, "top level")
    if not isinstance(backend_section, dict) or not backend_section.get("impl"):
        raise BadInputError("config error in backend: no backend selected (pass e.g. backend=blip2-opt-2.7b)")
    backend_class = load_backend_class(str(backend_section["impl"]), run.backend_dirs)
    options = validate_section(backend_class.Options, backend_section, "backend")
    return run, options, backend_class, tasks
