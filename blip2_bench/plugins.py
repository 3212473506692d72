"""Find task and backend plugins by name: built-in folders, extra plugin folders, entry points.

One finder for both kinds, so both fail alike ("did you mean") and a third party adds a
folder (or an installed package with an entry point), never a patch. Nothing is imported
until a plugin is asked for by name.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from .errors import BadInputError
from .paths import builtin_tasks_dir
from .registry import unknown_name_message

_BACKENDS_DIR = Path(__file__).resolve().parent / "backends"


@dataclass(frozen=True)
class PluginKind:
    kind: str
    """"task" or "backend": used in messages and module names."""
    attr: str
    """The module-level name a plugin file binds its class to (TASK, BACKEND)."""
    base: Callable[[], type]
    """The class every plugin must subclass (imported on use)."""
    builtin_dir: Callable[[], Path]
    builtin_package: str | None
    """Import built-ins as modules of this package (they use relative imports) instead of by path."""
    entry_point_group: str


def _task_base() -> type:
    from .task_api import BaseTask

    return BaseTask


def _backend_base() -> type:
    from .backend_api import Backend

    return Backend


TASKS = PluginKind("task", "TASK", _task_base, builtin_tasks_dir, None, "blip2_bench.tasks")
BACKENDS = PluginKind(
    "backend", "BACKEND", _backend_base, lambda: _BACKENDS_DIR, "blip2_bench.backends", "blip2_bench.backends"
)


def _folder_plugins(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".py" and not path.name.startswith("_"):
            found[path.stem] = path
        elif path.is_dir() and (path / "__init__.py").is_file() and not path.name.startswith("_"):
            found[path.name] = path / "__init__.py"
    return found


def _entry_points(kind: PluginKind) -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=kind.entry_point_group)}


def plugin_names(kind: PluginKind, extra_dirs: list[str] | None = None) -> dict[str, Path | str]:
    """Registry name (file stem = config name = result key) -> where it lives; earlier sources win."""
    found: dict[str, Path | str] = {}
    for folder in [kind.builtin_dir(), *(Path(d) for d in extra_dirs or [])]:
        if not folder.is_dir():
            raise BadInputError(f"{kind.kind} plugin folder not found: {folder}")
        for name, path in _folder_plugins(folder).items():
            found.setdefault(name, path)
    for name, ep in _entry_points(kind).items():
        found.setdefault(name, f"entry point {ep.value}")
    return found


def _import_file(kind: PluginKind, name: str, path: Path) -> Any:
    if kind.builtin_package and path.parent == kind.builtin_dir():
        return importlib.import_module(f"{kind.builtin_package}.{name}")
    module_name = f"_blip2_bench_{kind.kind}_{name}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses need their module registered
        spec.loader.exec_module(module)
    return module


def load_plugin(kind: PluginKind, name: str, extra_dirs: list[str] | None = None) -> type:
    """The plugin class registered as `name`; unknown names fail with the close ones."""
    found = plugin_names(kind, extra_dirs)
    if name not in found:
        raise BadInputError(unknown_name_message(kind.kind, name, found))
    where = found[name]
    if isinstance(where, Path):
        plugin = getattr(_import_file(kind, name, where), kind.attr, None)
    else:
        plugin = _entry_points(kind)[name].load()
    base = kind.base()
    if not (isinstance(plugin, type) and issubclass(plugin, base)):
        raise BadInputError(f"{kind.kind} plugin {where} must define {kind.attr} = <a {base.__name__} subclass>")
    declared = getattr(plugin, "name", name) if kind is TASKS else name
    if declared != name:
        raise BadInputError(f"{kind.kind} plugin {where} declares name {declared!r}, expected {name!r}")
    return plugin


def task_files(extra_dirs: list[str] | None = None) -> dict[str, Path | str]:
    return plugin_names(TASKS, extra_dirs)


def load_task_class(name: str, extra_dirs: list[str] | None = None) -> Any:
    return load_plugin(TASKS, name, extra_dirs)


def load_backend_class(impl: str, extra_dirs: list[str] | None = None) -> Any:
    return load_plugin(BACKENDS, impl, extra_dirs)
