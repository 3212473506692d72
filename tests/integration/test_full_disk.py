"""A full disk (ENOSPC) at any write of a run: one line naming the file, exit 2, nothing that looks
finished, and a re-run once there is space again completes with a clean run's scores and
recomputes only what had not been journaled.

The disk is simulated at the one door every writer of the run directory goes through,
pathlib.Path.open: files opened for writing under the run directory or the user cache share one
disk; at the chosen write, half of it lands (as on a real disk) and ENOSPC is raised, and every
later write to that disk fails too, until the test ends.
"""

from __future__ import annotations

import errno
import json
import os
import pathlib
import re
from pathlib import Path

import pytest

from blip2_bench.cli import main
from tests.conftest import read_json, read_jsonl

# Run-directory files as their writers name them (a temporary ".<name>.<pid>.<hex>.tmp" counts as <name>).
_TMP = re.compile(r"^\.(?P<name>.+)\.\d+\.[0-9a-f]+\.tmp$")


def _logical(path: Path, run_dir: Path) -> str:
    rel = path.relative_to(run_dir)
    match = _TMP.match(rel.name)
    return str(rel.with_name(match["name"])) if match else str(rel)


class FullDisk:
    """Fills up in the middle of the `occurrence`-th write-open of run-directory file `target`."""

    def __init__(self, roots: list[Path], run_dir: Path, target: str, occurrence: int = 1) -> None:
        self.roots, self.run_dir = [str(r) for r in roots], run_dir
        self.target, self.occurrence = re.compile(target), occurrence
        self.opened = 0
        self.full = False
        self.hit: str | None = None
        """The run-directory file the disk filled on."""

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_open = pathlib.Path.open
        disk = self

        def open_(path: Path, mode: str = "r", *args, **kwargs):
            f = real_open(path, mode, *args, **kwargs)
            if not any(c in mode for c in "wax+") or not str(path).startswith(tuple(disk.roots)):
                return f
            armed = False
            if path.is_relative_to(disk.run_dir) and disk.target.fullmatch(_logical(path, disk.run_dir)):
                disk.opened += 1
                armed = disk.opened == disk.occurrence
            return _Metered(f, disk, armed, path)

        monkeypatch.setattr(pathlib.Path, "open", open_)


class _Metered:
    """A file on the simulated disk: writes go through until the disk is full."""

    def __init__(self, f, disk: FullDisk, armed: bool, path: Path) -> None:
        self._f, self._disk, self._armed, self._path = f, disk, armed, path

    def write(self, data):
        if self._armed and not self._disk.full:
            self._f.write(data[: len(data) // 2])  # the part that fit
            self._f.flush()
            self._disk.full = True
            self._disk.hit = _logical(self._path, self._disk.run_dir)
        if self._disk.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._f.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._f.close()

    def __getattr__(self, name: str):
        return getattr(self._f, name)


def _args(data: Path, run_dir: Path, *extra: str) -> list[str]:
    return ["backend=fake", f"data_root={data}", f"hydra.run.dir={run_dir}", "backend.batch_size=2", *extra]


def _journaled(run_dir: Path) -> int:
    """Outputs held by whole journal lines (a torn last line holds none)."""
    journal = run_dir / "journal" / "vqav2.jsonl"
    if not journal.is_file():
        return 0
    whole = journal.read_bytes().split(b"\n")[:-1]
    return sum(len(json.loads(line)["outputs"]) for line in whole)


@pytest.fixture
def clean(vqa_data: Path, tmp_path: Path) -> dict:
    run_dir = tmp_path / "clean"
    assert main(_args(vqa_data, run_dir, "reuse_outputs=false")) == 0
    return {
        "vqav2": read_json(run_dir / "results.json")["tasks"]["vqav2"],
        "samples": read_jsonl(run_dir / "samples" / "vqav2.jsonl"),
    }


def _assert_failed_cleanly(run_dir: Path, disk: FullDisk, rc: int, output: str) -> None:
    assert disk.full and rc == 2, (disk.hit, rc, output[-1500:])
    lines = [line for line in output.splitlines() if "No space left on device" in line]
    assert len(lines) == 1 and str(run_dir / disk.hit) in lines[0], (disk.hit, output[-1500:])
    assert "Traceback" not in output
    assert not (run_dir / "COMPLETE").exists() and not (run_dir / "results.json").exists()
    assert not (run_dir / "table.md").exists() and not (run_dir / "table.csv").exists()
    assert not [p for p in run_dir.rglob("*.tmp")]  # no temporary left behind


@pytest.mark.parametrize(
    "target, occurrence",
    [
        (r"\.lock", 1),
        (r"run_config\.json", 1),
        (r"journal/vqav2\.jsonl", 1),  # the first batch's append
        (r"journal/vqav2\.jsonl", 4),  # a later one: three batches are kept
        (r"samples/vqav2\.jsonl", 1),
        (r"exports/vqav2_val2014_results\.json", 1),
        (r"journal/backend-.*\.json", 1),
        (r"table\.csv", 1),
        (r"table\.md", 1),
        (r"results\.json", 1),
        (r"COMPLETE", 1),
    ],
)
def test_a_full_disk_fails_in_one_line_and_the_rerun_completes(
    vqa_data, tmp_path, monkeypatch, capsys, clean, target, occurrence
):
    run_dir = tmp_path / "run"
    disk = FullDisk([run_dir, Path(os.environ["BLIP2_BENCH_CACHE"])], run_dir, target, occurrence)
    with monkeypatch.context() as patch:
        disk.install(patch)
        rc = main(_args(vqa_data, run_dir, "reuse_outputs=false"))
    out = capsys.readouterr()
    _assert_failed_cleanly(run_dir, disk, rc, out.out + out.err)
    kept = _journaled(run_dir)

    assert main(_args(vqa_data, run_dir, "reuse_outputs=false")) == 0  # space again
    again = read_json(run_dir / "results.json")["tasks"]["vqav2"]
    assert (run_dir / "COMPLETE").is_file()
    assert again["scores"] == clean["vqav2"]["scores"] and again["table"] == clean["vqav2"]["table"]
    assert read_jsonl(run_dir / "samples" / "vqav2.jsonl") == clean["samples"]
    assert again["timing"]["computed"] == again["n_samples"] - kept  # journaled work was not lost


def test_a_full_disk_while_re_scoring_a_finished_run_leaves_it_unfinished(vqa_data, tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    assert main(_args(vqa_data, run_dir, "reuse_outputs=false")) == 0
    lavis = tmp_path / "lavis"
    assert main(_args(vqa_data, lavis, "reuse_outputs=false", "task.vqav2.scorer=lavis")) == 0
    capsys.readouterr()
    disk = FullDisk([run_dir], run_dir, r"results\.json")
    with monkeypatch.context() as patch:
        disk.install(patch)
        rc = main(_args(vqa_data, run_dir, "reuse_outputs=false", "task.vqav2.scorer=lavis"))
    out = capsys.readouterr()
    _assert_failed_cleanly(run_dir, disk, rc, out.out + out.err)  # the old results went first
    assert main(_args(vqa_data, run_dir, "reuse_outputs=false", "task.vqav2.scorer=lavis")) == 0
    again = read_json(run_dir / "results.json")["tasks"]["vqav2"]
    assert again["scores"] == read_json(lavis / "results.json")["tasks"]["vqav2"]["scores"]
    assert again["timing"]["computed"] == 0
