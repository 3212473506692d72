"""Task plugins are found by file path and unknown names fail with close-name suggestions."""

from pathlib import Path

import pytest

from blip2_bench.errors import BadInputError
from blip2_bench.plugins import load_task_class, task_files
from blip2_bench.registry import Registry


def test_unknown_task_suggests_close_names():
    with pytest.raises(BadInputError, match=r"unknown task 'vqa2'; did you mean 'vqav2'"):
        load_task_class("vqa2")


def test_registry_is_lazy_and_suggests():
    built = []
    reg: Registry[int] = Registry("backend implementation")
    reg.register("hf_blip2", lambda: built.append(1) or 1)
    assert built == []  # nothing runs at registration
    assert reg.get("hf_blip2") == 1 and built == [1]
    with pytest.raises(BadInputError, match="did you mean 'hf_blip2'"):
        reg.get("hf_blip")
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("hf_blip2", lambda: 2)


PLUGIN = """
from dataclasses import dataclass
from blip2_bench.task_api import GenerationTask

@dataclass(frozen=True)
class Opts:
    x: int = 1

class Echo(GenerationTask):
    name = "{name}"
    version = 1
    Options = Opts
    def data_files(self): return {{}}
    def load(self, limit): return []
    def requests(self, samples, traits): return []
    def score(self, samples, predictions): raise NotImplementedError

TASK = Echo
"""


def test_plugin_from_an_extra_folder_is_loaded_by_file_path(tmp_path: Path):
    (tmp_path / "echo_task.py").write_text(PLUGIN.format(name="echo_task"))
    assert "echo_task" in task_files([str(tmp_path)])
    assert "vqav2" in task_files([str(tmp_path)])
    cls = load_task_class("echo_task", [str(tmp_path)])
    assert cls.__name__ == "Echo" and cls.version == 1


def test_plugin_with_wrong_declared_name_or_no_task_is_refused(tmp_path: Path):
    (tmp_path / "misnamed.py").write_text(PLUGIN.format(name="other"))
    (tmp_path / "empty_plugin.py").write_text("X = 1\n")
    with pytest.raises(BadInputError, match="declares name 'other'"):
        load_task_class("misnamed", [str(tmp_path)])
    with pytest.raises(BadInputError, match="must define TASK"):
        load_task_class("empty_plugin", [str(tmp_path)])


def test_missing_plugin_folder_is_an_error(tmp_path: Path):
    with pytest.raises(BadInputError, match="task plugin folder not found"):
        task_files([str(tmp_path / "nope")])
