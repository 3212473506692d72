"""Run directory and journal: config claim, one writer, torn and bad lines, atomic final files."""

import json
from pathlib import Path

import pytest

from blip2_bench.errors import BadInputError
from blip2_bench.files import atomic_write, atomic_write_json, atomic_write_json_large
from blip2_bench.runner.journal import Journal
from blip2_bench.runner.rundir import RunDir


def _entry(batch: str, key: str = "k", outputs=None) -> dict:
    return {"id": batch, "ctx": key, "outputs": outputs if outputs is not None else [{"id": batch, "raw": "x"}]}


def test_config_lock_accepts_same_and_refuses_different(tmp_path: Path):
    rd = RunDir(tmp_path / "run")
    rd.path.mkdir()
    rd.lock_config({"a": 1, "b": {"c": 2}})
    rd.lock_config({"a": 1, "b": {"c": 2}})
    with pytest.raises(BadInputError, match=r"different config \(b\.c: 2 here vs 3 requested\)"):
        rd.lock_config({"a": 1, "b": {"c": 3}})


def test_one_writer_per_run_directory_names_the_holder(tmp_path: Path):
    first, second = RunDir(tmp_path), RunDir(tmp_path)
    first.acquire()
    with pytest.raises(BadInputError, match=r"is in use by pid \d+ on .* since "):
        second.acquire()
    first.release()
    second.acquire()  # free again once the holder is done
    second.release()


def test_torn_last_line_is_dropped_and_cut(tmp_path: Path):
    j = Journal(tmp_path, "t")
    j.append([_entry("1"), _entry("2")])
    with j.path().open("a") as f:
        f.write('{"id": "3", "ct')  # a crash mid-write
    read = j.read("k", repair=True)
    assert sorted(read.entries) == ["1", "2"] and read.bad_lines == []
    assert j.path().read_text().endswith("}\n")  # the torn bytes are gone, appends stay valid
    j.append([_entry("3")])
    assert sorted(j.read("k").entries) == ["1", "2", "3"]


def test_bad_lines_in_the_middle_are_skipped_counted_and_the_rest_kept(tmp_path: Path):
    j = Journal(tmp_path, "t")
    j.append([_entry("1")])
    with j.path().open("a") as f:
        f.write("not json\n\n[1, 2]\n" + json.dumps({"id": "x", "ctx": "k"}) + "\n")
        f.write(json.dumps({"idd": "y", "ctx": "k", "outputs": []}) + "\n")
    j.append([_entry("2")])
    read = j.read("k")
    assert sorted(read.entries) == ["1", "2"]
    assert read.bad_lines == ["t.jsonl:2", "t.jsonl:3", "t.jsonl:4", "t.jsonl:5", "t.jsonl:6"]


def test_entries_of_another_stage_key_are_not_read_and_newest_wins(tmp_path: Path):
    j = Journal(tmp_path, "t")
    j.append([_entry("1", outputs=[{"id": "1", "skipped": "corrupt"}])])
    j.append([_entry("1", outputs=[{"id": "1", "raw": "second"}]), _entry("2", key="other")])
    read = j.read("k")
    assert list(read.entries) == ["1"] and read.entries["1"]["outputs"] == [{"id": "1", "raw": "second"}]


def test_outputs_are_imported_from_another_registered_run(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("BLIP2_BENCH_CACHE", str(tmp_path / "cache"))
    other, mine = Journal(tmp_path / "a", "t"), Journal(tmp_path / "b", "t")
    other.append([_entry("1"), _entry("2"), _entry("3", outputs=[{"id": "3", "skipped": "bad"}])])
    assert mine.import_from_others("k", {"1", "2", "3"}, set()) == 0  # not registered yet
    other.register("k")
    assert mine.import_from_others("k", {"1", "3"}, set()) == 1  # "2" not wanted, "3" has a skip
    assert sorted(mine.read("k").entries) == ["1"]
    assert mine.import_from_others("k", {"1"}, {"1"}) == 0  # already held


def test_atomic_write_leaves_no_temp_file(tmp_path: Path):
    atomic_write_json(tmp_path / "x" / "r.json", {"k": 1})
    assert json.loads((tmp_path / "x" / "r.json").read_text()) == {"k": 1}
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["r.json"]


def test_unwritable_target_is_one_line_bad_input(tmp_path: Path):
    # (A read-only folder does not stop root, who runs CI; a file where a folder should be does.)
    (tmp_path / "not-a-folder").write_text("x")
    with pytest.raises(BadInputError, match=r"cannot write .*not-a-folder/r\.json"):
        atomic_write_json(tmp_path / "not-a-folder" / "r.json", {})
    with pytest.raises(BadInputError, match=r"cannot write journal"):
        Journal(tmp_path / "not-a-folder", "t").append([_entry("1")])


def test_the_large_table_writer_reads_back_as_the_plain_writer_does(tmp_path):
    value = {
        "accuracy": 66.67,
        "note": 'ünï \u2028 "q"',
        "per_question": {str(i): i / 7 for i in range(50)},
        "n": [1, 0.1, 1e-05],
    }
    atomic_write_json(tmp_path / "plain.json", value)
    atomic_write_json_large(tmp_path / "large.json", value)
    assert (
        json.loads((tmp_path / "large.json").read_text(encoding="utf-8"))
        == json.loads((tmp_path / "plain.json").read_text())
        == value
    )
    assert (tmp_path / "large.json").read_text(encoding="utf-8").endswith("}\n")


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "r.json"
    atomic_write_json(target, {"old": 1})

    def fails(f):
        f.write(b"{half")
        raise RuntimeError("writer broke")

    with pytest.raises(RuntimeError, match="writer broke"):
        atomic_write(target, fails)
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
    assert json.loads(target.read_text()) == {"old": 1}


def test_the_large_table_writer_takes_a_lone_surrogate_as_json_does(tmp_path):
    value = {"per_question_type": {"is \ud800": 100.0}, "accuracy": 100.0}  # json.load can return this
    atomic_write_json_large(tmp_path / "large.json", value)
    assert json.loads((tmp_path / "large.json").read_text()) == value
    assert [p.name for p in tmp_path.iterdir()] == ["large.json"]
