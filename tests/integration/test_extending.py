"""The README's "Add a task" and "Add a backend" examples, copied out of the README and run:
a new task and a new backend are each one file plus one config, with no edit to the package."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

from blip2_bench.cli import main
from tests.conftest import read_json, read_jsonl

README = Path(__file__).resolve().parents[2] / "README.md"


def _examples() -> dict[str, str]:
    """README path -> the code block that follows its first mention as `my_plugins/...`."""
    text = README.read_text(encoding="utf-8")
    found = {}
    for match in re.finditer(r"`(my_plugins/[\w/.]+)`[^`]*?:\n\n```\w+\n(.*?)```", text, re.S):
        found.setdefault(match.group(1), match.group(2))
    return found


def test_readme_task_and_backend_examples_run_end_to_end(tmp_path: Path, monkeypatch):
    examples = _examples()
    assert set(examples) == {
        "my_plugins/tasks/color_names.py",
        "my_plugins/conf/task/color_names.yaml",
        "my_plugins/backends/echo.py",
        "my_plugins/conf/backend/echo.yaml",
    }
    for name, code in examples.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(code, encoding="utf-8")
    data = tmp_path / "data" / "colors"
    data.mkdir(parents=True)
    for name, colour in [("red_1", (255, 0, 0)), ("blue_1", (0, 0, 255)), ("red_2", (200, 10, 10))]:
        Image.new("RGB", (8, 8), colour).save(data / f"{name}.png")
    monkeypatch.chdir(tmp_path)
    args = [
        "backend=echo",
        "task=[color_names]",
        "task_dirs=[my_plugins/tasks]",
        "backend_dirs=[my_plugins/backends]",
        f"hydra.searchpath=[file://{tmp_path}/my_plugins/conf]",
        f"data_root={tmp_path / 'data'}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    assert main(args) == 0
    results = read_json(tmp_path / "run" / "results.json")
    assert results["backend"]["impl"] == "echo"
    assert results["tasks"]["color_names"]["scores"]["accuracy"] == 200 / 3  # "red" twice of three
    assert [r["prediction"] for r in read_jsonl(tmp_path / "run" / "samples" / "color_names.jsonl")] == ["red"] * 3
    assert main([*args[:-1], f"hydra.run.dir={tmp_path / 'blue'}", "backend.answer=blue"]) == 0
    assert read_json(tmp_path / "blue" / "results.json")["tasks"]["color_names"]["scores"]["accuracy"] == 100 / 3
