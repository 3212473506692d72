"""Command line: `blip2-bench [run] [hydra overrides]`, `blip2-bench score ...`, `blip2-bench make-demo`.

This is the only module that handles raw Hydra objects; everything past it gets
validated dataclasses. Exit codes: 0 success, 2 bad input or configuration, 1 other.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from .config import split_run_config
from .errors import BadInputError, BenchError
from .paths import conf_dir
from .registry import unknown_name_message
from .rundir import RunDir

log = logging.getLogger("blip2_bench")

SUBCOMMANDS = ("run", "score", "make-demo")


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def _run_name(*, _root_: DictConfig) -> str:
    """Default run folder name: the tasks plus a hash of the whole config (no timestamp)."""
    raw = OmegaConf.to_container(_root_, resolve=False)
    assert isinstance(raw, dict)
    raw.pop("hydra", None)
    resolved = OmegaConf.to_container(OmegaConf.create(raw), resolve=True)
    assert isinstance(resolved, dict)
    tasks = "+".join(sorted(resolved.get("task") or {})) or "none"
    return f"{tasks}-{config_hash(resolved)[:12]}"


if not OmegaConf.has_resolver("blip2_run_name"):
    OmegaConf.register_new_resolver("blip2_run_name", _run_name)


def evaluate(cfg: DictConfig, run_dir_path: Path) -> dict[str, Any]:
    """Validate the composed config, then run (or resume, or re-report) the run directory."""
    from .results import results_table
    from .runner import Runner

    run, backend, tasks = split_run_config(cfg)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(resolved, dict)
    run_dir = RunDir(run_dir_path)
    run_dir.lock_config(resolved)
    if run_dir.complete:
        log.info("run already complete: %s", run_dir.path)
        results = json.loads((run_dir.path / "results.json").read_text(encoding="utf-8"))
    else:
        results = Runner(run, backend, tasks, run_dir, resolved).execute()
    print(results_table(results).to_string(index=False))
    print(f"run directory: {run_dir.path}")
    return results


def check_group_choices(argv: list[str]) -> None:
    """Hydra says only "Could not load 'task/vqa2'"; name the close options instead."""
    for arg in argv:
        key, sep, value = arg.lstrip("+~").partition("=")
        folder = conf_dir() / key
        if not sep or "." in key or key == "hydra" or not folder.is_dir():
            continue
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        for choice in value.strip("[]").split(","):
            if choice and choice not in known:
                raise BadInputError(unknown_name_message(f"{key} config", choice, known))


def _run_hydra(argv: list[str]) -> int:
    try:
        check_group_choices(argv)
    except BadInputError as exc:
        print(f"blip2-bench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    outcome: dict[str, int] = {"code": 0}

    @hydra.main(config_path=str(conf_dir()), config_name="config", version_base="1.3")
    def _job(cfg: DictConfig) -> None:
        try:
            evaluate(cfg, Path(HydraConfig.get().runtime.output_dir))
        except BenchError as exc:
            log.error("%s", exc)
            outcome["code"] = exc.exit_code
        except Exception:  # not bad input: keep the traceback, exit 1
            log.exception("run failed")
            outcome["code"] = 1

    saved = sys.argv
    sys.argv = ["blip2-bench", *argv]
    try:
        _job()
    except SystemExit as exc:  # hydra exits on a bad override or a missing config
        code = exc.code if isinstance(exc.code, int) else 1
        return 2 if code == 1 else code
    finally:
        sys.argv = saved
    return outcome["code"]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "score":
        from .scoring.cli import score_main

        return score_main(argv[1:])
    if argv and argv[0] == "make-demo":
        from .demo.cli import make_demo_main

        return make_demo_main(argv[1:])
    if argv and argv[0] == "run":
        argv = argv[1:]
    return _run_hydra(argv)


def console_main() -> None:
    sys.exit(main())
