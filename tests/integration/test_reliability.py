"""Run-time reliability (fake backend, milliseconds): no silent stale or partial result, no lost
work, one line for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from blip2_bench.cli import main
from tests.conftest import read_json, read_jsonl


def _run(data: Path, run_dir: Path, *extra: str) -> int:
    return main(["backend=fake", f"data_root={data}", f"hydra.run.dir={run_dir}", *extra])


def _vqa(run_dir: Path) -> dict:
    return read_json(run_dir / "results.json")["tasks"]["vqav2"]


def _message(capsys) -> str:
    out = capsys.readouterr()
    return out.err + out.out


def _images(data: Path) -> list[Path]:
    return sorted((data / "val2014").glob("*.jpg"))


@pytest.mark.parametrize(
    "override, message",
    [
        ("limt=4", "unknown top-level key 'limt'; did you mean 'limit'"),
        ("backend.batchsize=4", "config error in backend: unknown key 'batchsize'; did you mean 'batch_size'"),
        ("task.vqav2.num_beam=3", "config error in task.vqav2: unknown key 'num_beam'; did you mean 'num_beams'"),
    ],
)
def test_misspelled_overrides_get_one_line_with_the_close_name(vqa_data, tmp_path, capsys, override, message):
    assert _run(vqa_data, tmp_path / "run", override) == 2
    text = _message(capsys)
    assert message in text and len(text.strip().splitlines()) == 1


def test_edited_image_contents_are_not_re_reported(vqa_data, tmp_path, capsys):
    assert _run(vqa_data, tmp_path / "run") == 0
    first = _vqa(tmp_path / "run")
    image = _images(vqa_data)[0]
    Image.new("RGB", (64, 48), (3, 200, 9)).save(image, format="JPEG")  # same name, new pixels
    assert _run(vqa_data, tmp_path / "run") == 0
    second = _vqa(tmp_path / "run")
    assert "the samples, prompts or image contents changed" in _message(capsys)
    assert 0 < second["timing"]["computed"] < first["n_samples"]  # only that image's batches


def test_a_huge_question_is_refused_before_any_model_loads(vqa_data, tmp_path, capsys):
    path = vqa_data / "v2_OpenEnded_mscoco_val2014_questions.json"
    questions = json.loads(path.read_text())
    questions["questions"][1]["question"] = "x" * 100_000
    path.write_text(json.dumps(questions))
    assert _run(vqa_data, tmp_path / "run") == 2
    assert "prompt of 1000" in _message(capsys)
    assert not (tmp_path / "run" / "run_config.json").exists()  # a failed run claims nothing


def test_a_failed_run_does_not_claim_its_directory(vqa_data, tmp_path):
    assert _run(tmp_path / "nowhere", tmp_path / "run") == 2
    assert _run(vqa_data, tmp_path / "run") == 0  # fixed input, same directory: accepted


def test_decompression_bomb_is_one_line_and_skippable(vqa_data, tmp_path, capsys):
    bomb = _images(vqa_data)[0]
    Image.new("1", (20000, 20000)).save(bomb, format="PNG")  # PNG bytes named .jpg, as in real COCO
    assert _run(vqa_data, tmp_path / "fail") == 2
    assert "corrupt or unreadable image" in _message(capsys)
    assert _run(vqa_data, tmp_path / "skip", "on_bad_image=skip") == 0
    info = _vqa(tmp_path / "skip")
    assert info["skipped_images"] and info["coverage"].endswith(f"({len(info['skipped_images'])} skipped)")
    assert f"of {info['n_samples']} samples scored" in (tmp_path / "skip" / "table.md").read_text()


def test_limit_is_marked_in_table_and_results(vqa_data, tmp_path):
    assert _run(vqa_data, tmp_path / "run", "limit=5") == 0
    assert _vqa(tmp_path / "run")["coverage"] == "first 5 of the split (limit=5)"
    assert "limit=5" in (tmp_path / "run" / "table.csv").read_text()


def test_a_finished_run_with_damaged_files_is_rebuilt_from_its_journal(vqa_data, tmp_path):
    run_dir = tmp_path / "run"
    assert _run(vqa_data, run_dir) == 0
    samples = read_jsonl(run_dir / "samples" / "vqav2.jsonl")
    (run_dir / "samples" / "vqav2.jsonl").unlink()
    assert _run(vqa_data, run_dir) == 0
    assert read_jsonl(run_dir / "samples" / "vqav2.jsonl") == samples and _vqa(run_dir)["timing"]["computed"] == 0
    (run_dir / "results.json").write_text("{garbage")
    assert _run(vqa_data, run_dir) == 0
    assert _vqa(run_dir)["timing"]["computed"] == 0 and (run_dir / "COMPLETE").is_file()


def test_provenance_describes_the_outputs_when_all_came_from_the_journal(vqa_data, tmp_path):
    run_dir = tmp_path / "run"
    assert _run(vqa_data, run_dir) == 0
    computed = read_json(run_dir / "results.json")["backend"]
    (run_dir / "COMPLETE").unlink()  # e.g. a crash just before the end
    assert _run(vqa_data, run_dir) == 0
    again = read_json(run_dir / "results.json")["backend"]
    assert again == {**computed, "loaded_this_attempt": False}


def test_a_journal_line_missing_outputs_is_recomputed_not_scored_short(vqa_data, tmp_path):
    run_dir = tmp_path / "run"
    assert _run(vqa_data, run_dir) == 0
    journal = run_dir / "journal" / "vqav2.jsonl"
    lines = journal.read_text().splitlines()
    entry = json.loads(lines[0])
    entry["outputs"] = entry["outputs"][1:]  # one sample of the batch lost
    journal.write_text("\n".join([json.dumps(entry), *lines[1:]]) + "\n")
    (run_dir / "COMPLETE").unlink()
    assert _run(vqa_data, run_dir) == 0
    info = _vqa(run_dir)
    assert info["n_predicted"] == info["n_samples"] and info["timing"]["computed"] == len(
        json.loads(lines[0])["outputs"]
    )
