"""A non-editable install (a built wheel) carries conf/ and tasks/ and runs from them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def test_wheel_ships_configs_and_tasks_and_uses_them(tmp_path):
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for expected in [
        "blip2_bench/_shipped/conf/config.yaml",
        "blip2_bench/_shipped/conf/task/vqav2.yaml",
        "blip2_bench/_shipped/conf/backend/blip2-opt-2.7b.yaml",
        "blip2_bench/_shipped/conf/hydra/launcher/slurm.yaml",
        "blip2_bench/_shipped/tasks/vqav2.py",
    ]:
        assert expected in names, expected
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    probe = (
        "import blip2_bench.paths as p; from blip2_bench.plugins import task_files; "
        "print(p.conf_dir()); print(sorted(task_files()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "site")},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    conf, tasks = out.stdout.splitlines()
    assert conf == str(tmp_path / "site" / "blip2_bench" / "_shipped" / "conf")
    assert "'vqav2'" in tasks
    # The embedded default runs from the wheel in any folder: the shipped pairings' weights are found
    # inside the installed package, not relative to the working directory.
    default = subprocess.run(
        [sys.executable, "-m", "blip2_bench.cli", "default", "limit=4"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "site"), "HF_HUB_OFFLINE": "1"},
        timeout=600,
    )
    assert default.returncode == 0, default.stderr[-3000:]
    assert "# blip2-bench comparison" in default.stdout
    results = json.loads((tmp_path / "results" / "default" / "mini-opt" / "results.json").read_text())
    assert results["backend"]["model"] == str(tmp_path / "site" / "blip2_bench" / "minibench" / "models" / "mini-opt")
