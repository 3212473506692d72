"""Run directory: config lock, torn journal lines, atomic final files."""

import json
from pathlib import Path

import pytest

from blip2_bench.errors import BadInputError
from blip2_bench.rundir import RunDir, atomic_write_json


def test_config_lock_accepts_same_and_refuses_different(tmp_path: Path):
    rd = RunDir(tmp_path / "run")
    rd.lock_config({"a": 1, "b": {"c": 2}})
    rd.lock_config({"a": 1, "b": {"c": 2}})
    with pytest.raises(BadInputError, match=r"different config \(b\.c: 2 here vs 3 requested\)"):
        rd.lock_config({"a": 1, "b": {"c": 3}})


def test_torn_last_journal_line_is_dropped_and_cut(tmp_path: Path):
    rd = RunDir(tmp_path)
    rd.append_journal("t", [{"id": "1", "raw": "a"}, {"id": "2", "raw": "b"}])
    path = rd.journal_path("t")
    with path.open("a") as f:
        f.write('{"id": "3", "ra')  # a crash mid-write
    entries = rd.read_journal("t")
    assert sorted(entries) == ["1", "2"]
    assert path.read_text().endswith('"b"}\n')  # the torn bytes are gone, appends stay valid
    rd.append_journal("t", [{"id": "3", "raw": "c"}])
    assert sorted(rd.read_journal("t")) == ["1", "2", "3"]


def test_duplicate_journal_ids_keep_the_newest(tmp_path: Path):
    # A batch re-run after a skipped image was fixed must not be shadowed by the old skip.
    rd = RunDir(tmp_path)
    rd.append_journal("t", [{"id": "1", "skipped": "corrupt"}])
    rd.append_journal("t", [{"id": "1", "raw": "second"}])
    assert rd.read_journal("t")["1"] == {"id": "1", "raw": "second"}


def test_atomic_write_leaves_no_temp_file(tmp_path: Path):
    atomic_write_json(tmp_path / "x" / "r.json", {"k": 1})
    assert json.loads((tmp_path / "x" / "r.json").read_text()) == {"k": 1}
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["r.json"]
