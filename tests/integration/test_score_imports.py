"""`blip2-bench score <task>` scores a file without importing the model stack (torch, transformers).

Each command runs in a fresh interpreter (imports cached by this test process would hide one);
the modules loaded by the end of a real, successful scoring run are checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from blip2_bench.demo.caption_fixture import write_caption_fixture
from blip2_bench.demo.retrieval_fixture import write_flickr30k_fixture
from blip2_bench.demo.vqav2_fixture import write_vqav2_fixture

MODEL_STACK = ("torch", "transformers", "datasets", "accelerate")

# Runs the real CLI entry, then prints which of MODEL_STACK got imported (whatever the exit code).
_DRIVER = f"""
import json, sys
from blip2_bench.cli import main
rc = main(sys.argv[1:])
print(json.dumps({{"rc": rc, "loaded": [m for m in {MODEL_STACK!r} if m in sys.modules]}}))
"""


def _score(*argv: str | Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, "score", *map(str, argv)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_score_vqav2_imports_no_model_stack(tmp_path: Path) -> None:
    fixture = write_vqav2_fixture(tmp_path, n_images=2, questions_per_image=3)
    predictions = tmp_path / "results.json"
    predictions.write_text(json.dumps([{"question_id": q, "answer": "yes"} for q in fixture.question_ids]))
    out = tmp_path / "scores.json"
    assert fixture.annotations_file is not None
    report = _score(
        "vqav2",
        "--questions",
        fixture.questions_file,
        "--annotations",
        fixture.annotations_file,
        "--predictions",
        predictions,
        "--json",
        out,
    )
    assert report == {"rc": 0, "loaded": []}
    assert len(json.loads(out.read_text())["per_question"]) == 6  # it really scored


def test_score_flickr30k_imports_no_model_stack(tmp_path: Path) -> None:
    fixture = write_flickr30k_fixture(tmp_path, n_images=3)
    n_images, n_texts = len(fixture.captions), sum(map(len, fixture.captions))
    rng = np.random.default_rng(0)
    scores = tmp_path / "scores.npz"
    np.savez(scores, i2t=rng.random((n_images, n_texts)), t2i=rng.random((n_texts, n_images)))
    out = tmp_path / "scores.json"
    report = _score("flickr30k", "--annotations", fixture.lavis_file, "--predictions", scores, "--json", out)
    assert report == {"rc": 0, "loaded": []}
    assert "txt_r1" in json.loads(out.read_text())


@pytest.mark.java
def test_score_coco_caption_imports_no_model_stack(tmp_path: Path) -> None:
    fixture = write_caption_fixture(tmp_path, n_coco=3, n_nocaps=4)
    predictions = tmp_path / "captions.json"
    predictions.write_text(json.dumps([{"image_id": i, "caption": "a dog on a couch"} for i in fixture.coco_ids]))
    out = tmp_path / "scores.json"
    report = _score(
        "coco_caption", "--annotations", fixture.coco_gt, "--predictions", predictions, "--spice", "off", "--json", out
    )
    assert report == {"rc": 0, "loaded": []}
    assert "CIDEr" in json.loads(out.read_text())
