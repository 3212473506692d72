"""Find task plugins by file path in a list of folders; nothing is imported until asked for."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from .errors import BadInputError
from .paths import builtin_tasks_dir
from .registry import unknown_name_message
from .task_api import BaseTask


def task_files(extra_dirs: list[str] | None = None) -> dict[str, Path]:
    """Registry name (the file stem, also the config name) -> plugin file; earlier dirs win."""
    found: dict[str, Path] = {}
    for folder in [builtin_tasks_dir(), *(Path(d) for d in extra_dirs or [])]:
        if not folder.is_dir():
            raise BadInputError(f"task plugin folder not found: {folder}")
        for path in sorted(folder.iterdir()):
            if path.suffix == ".py" and not path.name.startswith("_"):
                found.setdefault(path.stem, path)
            elif path.is_dir() and (path / "__init__.py").is_file():
                found.setdefault(path.name, path / "__init__.py")
    return found


def load_task_class(name: str, extra_dirs: list[str] | None = None) -> type[BaseTask]:
    files = task_files(extra_dirs)
    if name not in files:
        raise BadInputError(unknown_name_message("task", name, files))
    module_name = f"_blip2_bench_task_{name}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, files[name])
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses need their module registered
        spec.loader.exec_module(module)
    task_class = getattr(module, "TASK", None)
    if not (isinstance(task_class, type) and issubclass(task_class, BaseTask)):
        raise BadInputError(f"task plugin {files[name]} must define TASK = <a BaseTask subclass>")
    if task_class.name != name:
        raise BadInputError(f"task plugin {files[name]} declares name {task_class.name!r}, expected {name!r}")
    return task_class
