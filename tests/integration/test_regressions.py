"""Regressions: stale finished runs, whole-file hashes, rank failures, the LAVIS image backend, CLI checks."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from blip2_bench.backends._hf import HfBlip2Options as BackendConfig
from blip2_bench.backends.hf_blip2 import HfBlip2Backend
from blip2_bench.cli import check_group_choices
from blip2_bench.errors import BadInputError
from blip2_bench.provenance import file_hash
from tests.conftest import read_json
from tests.integration.test_run_end_to_end import run_cli
from tests.integration.test_scale_out import _args, run_torchrun

A = "v2_mscoco_val2014_annotations.json"
Q = "v2_OpenEnded_mscoco_val2014_questions.json"


@pytest.mark.slow
def test_edited_annotations_make_a_finished_run_stale(tiny_models, vqa_data, tmp_path):
    run_dir = tmp_path / "run"
    assert run_cli("opt", tiny_models["opt"], vqa_data, run_dir, "limit=3") == 0
    answers = {r["question_id"]: r["prediction"] for r in map(json.loads, (run_dir / "samples" / "vqav2.jsonl").open())}
    doc = read_json(vqa_data / A)
    for ann in doc["annotations"]:  # every human now agrees with the model
        if ann["question_id"] in answers:
            ann["answers"] = [{**a, "answer": answers[ann["question_id"]]} for a in ann["answers"]]
    (vqa_data / A).write_text(json.dumps(doc))
    assert run_cli("opt", tiny_models["opt"], vqa_data, run_dir, "limit=3") == 0
    task = read_json(run_dir / "results.json")["tasks"]["vqav2"]
    assert task["scores"]["accuracy"] == 100.0
    assert task["timing"]["computed"] == 0  # generation outputs still valid: only rescored


def test_file_hash_covers_the_whole_file_and_is_cached(tmp_path):
    path = tmp_path / "w.bin"
    data = bytearray(9 * 2**20)
    path.write_bytes(bytes(data))
    before = file_hash(path)
    data[5 * 2**20] = 1  # a change in the middle, same size
    path.write_bytes(bytes(data))
    assert file_hash(path) != before


def test_file_hash_is_cached_and_an_edit_restoring_size_and_mtime_is_still_caught(tmp_path, monkeypatch):
    from blip2_bench import provenance

    reads: list[str] = []
    real = provenance._sha256
    monkeypatch.setattr(provenance, "_sha256", lambda p: reads.append(p.name) or real(p))
    path = tmp_path / "img.jpg"
    path.write_bytes(b"a" * 1000)
    first = file_hash(path)
    assert file_hash(path) == first and reads == ["img.jpg"]  # the second call read nothing
    provenance._HASHES = None  # a new process: the cache comes from disk
    assert file_hash(path) == first and reads == ["img.jpg"]
    stat = path.stat()
    path.write_bytes(b"b" * 1000)  # same size...
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ...and the old mtime
    assert file_hash(path) != first and len(reads) == 2


def test_image_processor_is_pil_bicubic_like_lavis(tiny_models):
    backend = HfBlip2Backend(BackendConfig(name="t", model=str(tiny_models["opt"]), family="opt", image_size=32))
    ip = backend.processor.image_processor
    assert type(ip).__name__.endswith("Pil")
    image = Image.new("RGB", (57, 41))
    image.putdata([((7 * i) % 256, (13 * i) % 256, (29 * i) % 256) for i in range(57 * 41)])
    pixels = ip([image], return_tensors="pt")["pixel_values"][0].numpy()
    # LAVIS: Resize((S, S), BICUBIC) on the PIL image, ToTensor, Normalize(CLIP mean/std).
    ref = np.asarray(image.resize((32, 32), Image.Resampling.BICUBIC), dtype=np.float32) / 255.0
    mean, std = np.array(ip.image_mean, dtype=np.float32), np.array(ip.image_std, dtype=np.float32)
    assert np.abs(pixels - ((ref - mean) / std).transpose(2, 0, 1)).max() < 1e-5


def test_group_choice_check_leaves_sweeps_and_extra_searchpaths_to_hydra():
    check_group_choices(["-m", "backend=glob(tiny-*,exclude=tiny-itm)"])
    check_group_choices(["hydra.searchpath=[file:///x/conf]", "task=[myvqa]"])
    with pytest.raises(BadInputError, match="did you mean 'tiny-opt'"):
        check_group_choices(["backend=tiny-op"])


@pytest.mark.slow
def test_a_failure_on_one_rank_stops_every_rank_with_its_message(tiny_models, vqa_data, tmp_path):
    # batch_size 3 = one image's three questions per batch; rank 1 takes the second image's batch.
    questions = read_json(vqa_data / Q)["questions"]
    second = list(dict.fromkeys(q["image_id"] for q in questions))[1]
    bad = vqa_data / "val2014" / f"COCO_val2014_{second:012d}.jpg"
    bad.write_bytes(bad.read_bytes()[:100])
    run_dir = tmp_path / "run"
    args = [a for a in _args(tiny_models["opt"], vqa_data, run_dir) if not a.startswith("backend.batch_size")]
    proc = run_torchrun([*args, "backend.batch_size=3"])
    assert proc.returncode != 0
    # Both ranks stop with rank 1's one-line reason (Hydra logs to stdout), rather than one
    # of them waiting at a barrier or dying with a broken-connection traceback.
    assert proc.stdout.count(f"rank 1: corrupt or unreadable image: {bad}") == 2, proc.stdout[-3000:]
    assert "Connection closed by peer" not in proc.stdout + proc.stderr
    assert not (run_dir / "COMPLETE").exists()
