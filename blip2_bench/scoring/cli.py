"""`blip2-bench score <task> ...`: the task plugin's own score command (its `score_command`)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

from ..errors import BenchError
from ..plugins import load_task_class, task_files
from ..registry import unknown_name_message


def _commands(extra_dirs: list[str] | None = None) -> dict[str, str]:
    """Task name -> "module:function", for every task plugin that declares a score command."""
    return {name: command for name in task_files(extra_dirs) if (command := _score_command(name, extra_dirs))}


def _score_command(name: str, extra_dirs: list[str] | None) -> str | None:
    # Imports that one task's module only: the others (caption metrics, retrieval) stay unloaded.
    return getattr(load_task_class(name, extra_dirs), "score_command", None)


def _command(spec: str) -> Callable[[list[str]], int]:
    module, function = spec.split(":")
    return getattr(importlib.import_module(module), function)


def score_main(argv: list[str]) -> int:
    # Plugin folders come first, as in a run: `score --task-dir DIR <task> ...`.
    extra: list[str] = []
    while len(argv) >= 2 and argv[0] == "--task-dir":
        extra.append(argv[1])
        argv = argv[2:]
    try:
        # The named task alone when it is one with a score command; all of them to list or suggest.
        known = argv and argv[0] in task_files(extra)
        command = _score_command(argv[0], extra) if known else None
        commands = {} if command else _commands(extra)
    except BenchError as exc:
        print(f"blip2-bench score: error: {exc}", file=sys.stderr)
        return exc.exit_code
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: blip2-bench score [--task-dir DIR] {{{','.join(sorted(commands))}}} [options]")
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if command is None:
        print(f"blip2-bench score: {unknown_name_message('scorer task', name, commands)}", file=sys.stderr)
        return 2
    try:
        return _command(command)(rest)
    except BenchError as exc:
        print(f"blip2-bench score {name}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except SystemExit as exc:  # argparse: bad arguments
        return 2 if exc.code else 0
