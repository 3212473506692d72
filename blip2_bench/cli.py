"""Command line: `blip2-bench [run] [hydra overrides]`, `blip2-bench score ...`, `blip2-bench make-demo`.

This is the only module that handles raw Hydra objects; everything past it gets
validated dataclasses. Exit codes: 0 success, 2 bad input or configuration, 1 other.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from .config import ADDED_KEYS_DEFAULTS, NON_IDENTITY_KEYS, split_run_config
from .errors import BadInputError, BenchError
from .paths import conf_dir, minibench_model_dir
from .registry import unknown_name_message

log = logging.getLogger("blip2_bench")


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def _run_name(*, _root_: DictConfig) -> str:
    """Default run folder name: the tasks plus a hash of the whole config (no timestamp)."""
    raw = OmegaConf.to_container(_root_, resolve=False)
    assert isinstance(raw, dict)
    raw.pop("hydra", None)
    resolved = OmegaConf.to_container(OmegaConf.create(raw), resolve=True)
    assert isinstance(resolved, dict)
    resolved = identity_config(resolved)
    tasks = "+".join(sorted(resolved.get("task") or {})) or "none"
    return f"{tasks}-{config_hash(resolved)[:12]}"


SWEEP_ENV = "BLIP2_BENCH_SWEEP"


def sweep_name(argv: list[str]) -> str:
    """Default sweep folder: the sweep command's own overrides, readable, plus their hash. Each sweep
    gets its own folder (its report covers its runs only); the same command finds and resumes it."""
    items = [a for a in argv if not a.startswith(("-", "hydra.", "hydra/"))]
    slug = re.sub(r"[^A-Za-z0-9=,._-]+", "_", "_".join(items)).strip("_")[:60] or "sweep"
    return f"{slug}-{config_hash({'overrides': items})[:8]}"


# Hydra re-resolves hydra.sweep.dir inside every job, where only that job's overrides are known;
# the sweep's name therefore travels in the environment (local and Slurm workers inherit it).
if not OmegaConf.has_resolver("blip2_sweep_name"):
    OmegaConf.register_new_resolver("blip2_sweep_name", lambda: os.environ.get(SWEEP_ENV, "sweep"))
if not OmegaConf.has_resolver("blip2_run_name"):
    OmegaConf.register_new_resolver("blip2_run_name", _run_name)
if not OmegaConf.has_resolver("blip2_minibench_model"):
    OmegaConf.register_new_resolver("blip2_minibench_model", lambda name: str(minibench_model_dir(name)))


def identity_config(resolved: dict[str, Any]) -> dict[str, Any]:
    """The config that decides results (run-control keys such as `fresh` left out)."""
    return {
        k: v
        for k, v in resolved.items()
        if k not in NON_IDENTITY_KEYS and not (k in ADDED_KEYS_DEFAULTS and v == ADDED_KEYS_DEFAULTS[k])
    }


def directory_claim(identity: dict[str, Any]) -> dict[str, Any]:
    """What a run directory is claimed for: everything but the tasks' own options, which may change
    in place (e.g. another scorer re-scores the journaled outputs; another prompt recomputes)."""
    return {**identity, "task": sorted(identity.get("task") or {})}


def evaluate(cfg: DictConfig, run_dir_path: Path) -> dict[str, Any] | None:
    """Validate the composed config, then run (or resume, or re-report) the run directory.

    Under torchrun or a multi-task Slurm job every rank calls this; rank 0 decides the run
    directory (so a `${now:...}` in hydra.run.dir cannot split the ranks) and writes results.
    """
    from . import distributed
    from .results import console_summary
    from .runner.job import Runner
    from .runner.rundir import RunDir

    run, backend_options, backend_class, tasks = split_run_config(cfg)
    env = distributed.detect()
    distributed.init(env, run.dist_timeout_minutes)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(resolved, dict)
    run_dir = RunDir(Path(distributed.broadcast(str(run_dir_path))))
    runner = Runner(run, backend_options, backend_class, tasks, run_dir, resolved, env)
    try:
        results = runner.run(directory_claim(identity_config(resolved)))
    finally:
        run_dir.release()
    if results is not None:
        print(console_summary(results))
        print(f"run directory: {run_dir.path}")
    return results


def check_group_choices(argv: list[str]) -> None:
    """Hydra says only "Could not load 'task/vqa2'"; name the close options instead."""
    if any(arg.lstrip("+~").startswith("hydra.searchpath") for arg in argv):
        return  # configs may come from other folders too
    for arg in argv:
        key, sep, value = arg.lstrip("+~").partition("=")
        folder = conf_dir() / key
        if not sep or "." in key or key == "hydra" or not folder.is_dir():
            continue
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        if "(" in value:  # Hydra sweep functions (glob, choice, range): Hydra checks those itself
            continue
        for choice in value.strip("[]").split(","):
            if choice and choice not in known:
                raise BadInputError(unknown_name_message(f"{key} config", choice, known))


def check_override_keys(argv: list[str]) -> None:
    """Hydra answers a misspelled `limt=4` or `backend.batchsize=4` with seven lines suggesting
    `+limt=4`; say in one line which key was meant. Only plain `key=value` overrides are checked
    (a `+key` adds on purpose; other searchpaths may bring other keys)."""
    from dataclasses import fields

    import yaml

    from .config import RunConfig
    from .plugins import load_backend_class, load_task_class

    if any(arg.lstrip("+~").startswith("hydra.searchpath") for arg in argv):
        return
    # Group choices such as hydra/launcher=local are Hydra's (and check_group_choices') to check.
    overrides = [k for a in argv if "=" in a and not a.startswith(("+", "~", "-")) for k in [a.partition("=")[0]]]
    overrides = [k for k in overrides if "/" not in k]
    groups = {p.name for p in conf_dir().iterdir() if p.is_dir()}
    top = {f.name for f in fields(RunConfig)} | groups | {"hydra"}
    backend = next((a.partition("=")[2] for a in argv if a.startswith("backend=")), None)
    for key in overrides:
        head, _, rest = key.partition(".")
        if head not in top:
            raise BadInputError("config error: " + unknown_name_message("top-level key", head, top))
        if head == "backend" and rest and "," not in (backend or ""):
            choice = conf_dir() / "backend" / f"{backend or _default_backend()}.yaml"
            if not choice.is_file():
                continue
            impl = (yaml.safe_load(choice.read_text(encoding="utf-8")) or {}).get("impl")
            known = [f.name for f in fields(load_backend_class(str(impl)).Options)]
            if rest.split(".")[0] not in known:
                raise BadInputError(f"config error in backend: {unknown_name_message('key', rest, known)}")
        if head == "task" and rest.count(".") >= 1:
            name, _, option = rest.partition(".")
            known = [f.name for f in fields(load_task_class(name).Options)]
            if option.split(".")[0] not in known:
                raise BadInputError(f"config error in task.{name}: {unknown_name_message('key', option, known)}")


def _default_backend() -> str:
    import yaml

    defaults = yaml.safe_load((conf_dir() / "config.yaml").read_text(encoding="utf-8")).get("defaults", [])
    return next((d["backend"] for d in defaults if isinstance(d, dict) and "backend" in d), "")


def _run_hydra(argv: list[str]) -> int:
    try:
        check_group_choices(argv)
        check_override_keys(argv)
    except BadInputError as exc:
        print(f"blip2-bench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    outcome: dict[str, int] = {"code": 0}

    import hydra  # here, not at the top: `score` and `report` start without it
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    @hydra.main(config_path=str(conf_dir()), config_name="config", version_base="1.3")
    def _job(cfg: DictConfig) -> None:
        multirun = HydraConfig.get().mode == RunMode.MULTIRUN
        try:
            from .distributed import shutdown

            evaluate(cfg, Path(HydraConfig.get().runtime.output_dir))
            shutdown()
        except BenchError as exc:
            log.error("%s", exc)
            outcome["code"] = exc.exit_code
            if multirun:  # let the launcher mark this sweep point failed
                raise
        except Exception:  # not bad input: keep the traceback, exit 1
            log.exception("run failed")
            outcome["code"] = 1
            if multirun:
                raise

    saved, saved_sweep = sys.argv, os.environ.get(SWEEP_ENV)
    sys.argv = ["blip2-bench", *argv]
    if {"-m", "--multirun"} & set(argv):
        os.environ[SWEEP_ENV] = sweep_name(argv)
    try:
        _job()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
        if {"-m", "--multirun"} & set(argv):
            return code  # a failed sweep point: its own log says why (bad input or not)
        return 2 if code == 1 else code  # a single run reaches here only on a bad override or config
    finally:
        sys.argv = saved
        if saved_sweep is None:
            os.environ.pop(SWEEP_ENV, None)
        else:
            os.environ[SWEEP_ENV] = saved_sweep
    return outcome["code"]


# Subcommands: name -> (module, function taking the remaining argv); imported only when used, so
# e.g. `score` starts without loading the model stack.
SUBCOMMANDS = {
    "default": ("default_job", "default_main"),
    "score": ("scoring.cli", "score_main"),
    "report": ("report.cli", "report_main"),
    "check": ("report.cli", "check_main"),
    "save-baseline": ("report.baseline", "save_baseline_main"),
    "make-minibench": ("minibench.cli", "make_minibench_main"),
    "make-demo": ("demo.cli", "make_demo_main"),
    "bench": ("bench.cli", "bench_main"),
}


def _escape_unencodable_output() -> None:
    # Data files may hold text the console cannot encode (json.load lets a lone surrogate such as
    # "\ud800" through in a type name): print it escaped rather than crash before results are written.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    """No arguments: the embedded default benchmark; a subcommand; or a Hydra run (`run` optional)."""
    import importlib

    argv = list(sys.argv[1:] if argv is None else argv)
    _escape_unencodable_output()
    command = argv[0] if argv else "default"
    if command in SUBCOMMANDS:
        module, function = SUBCOMMANDS[command]
        return getattr(importlib.import_module(f".{module}", __package__), function)(argv[1:])
    return _run_hydra(argv[1:] if command == "run" else argv)


def console_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    console_main()
