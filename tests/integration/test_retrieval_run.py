"""Flickr30k retrieval through the real CLI with a tiny real Blip2ForImageTextRetrieval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from blip2_bench.backends.hf_blip2_retrieval import HfBlip2RetrievalBackend
from blip2_bench.cli import main
from tests.conftest import read_json, read_jsonl
from tests.integration.test_scale_out import run_torchrun

pytestmark = pytest.mark.slow
LAVIS_KEYS = {
    "txt_r1",
    "txt_r5",
    "txt_r10",
    "txt_r_mean",
    "img_r1",
    "img_r5",
    "img_r10",
    "img_r_mean",
    "r_mean",
    "agg_metrics",
}


def _args(model: Path, data: Path, run_dir: Path, *extra: str) -> list[str]:
    return [
        "backend=tiny-itm",
        f"backend.model={model}",
        f"data_root={data}",
        "task=[flickr30k]",
        f"hydra.run.dir={run_dir}",
        "task.flickr30k.k_test=3",
        "task.flickr30k.itm_batch_size=4",
        *extra,
    ]


def test_flickr30k_run_scores_match_score_command(tiny_itm, flickr_data, tmp_path):
    run_dir = tmp_path / "run"
    assert main(_args(tiny_itm, flickr_data, run_dir)) == 0
    task = read_json(run_dir / "results.json")["tasks"]["flickr30k"]
    assert set(task["scores"]) == LAVIS_KEYS and task["n_images"] == 8
    assert task["metric_impl"] == "lavis_report_metrics+itm_rerank"
    scores = np.load(run_dir / "exports" / "flickr30k_scores.npz")
    i2t = scores["i2t"]
    assert i2t.shape == (8, task["n_texts"]) and (i2t == -100).sum(axis=1).min() == task["n_texts"] - 3
    records = read_jsonl(run_dir / "samples" / "flickr30k.jsonl")
    assert sum(r["kind"] == "image" for r in records) == 8 and sum(r["kind"] == "text" for r in records) == 39
    out = tmp_path / "s.json"
    assert (
        main(
            [
                "score",
                "flickr30k",
                "--annotations",
                str(flickr_data / "flickr30k_test.json"),
                "--predictions",
                str(run_dir / "exports" / "flickr30k_scores.npz"),
                "--json",
                str(out),
            ]
        )
        == 0
    )
    assert read_json(out) == task["scores"]
    # Karpathy's file form gives the same gallery, so the same numbers.
    karpathy = tmp_path / "karpathy"
    assert main(_args(tiny_itm, flickr_data, karpathy, "task.flickr30k.source=karpathy")) == 0
    assert read_json(karpathy / "results.json")["tasks"]["flickr30k"]["scores"] == task["scores"]


def test_itc_only_ranking_has_no_minus_100(tiny_itm, flickr_data, tmp_path):
    run_dir = tmp_path / "run"
    assert main(_args(tiny_itm, flickr_data, run_dir, "task.flickr30k.rerank=false")) == 0
    assert (np.load(run_dir / "exports" / "flickr30k_scores.npz")["i2t"] > -100).all()


def test_crash_during_reranking_resumes_from_journaled_batches(tiny_itm, flickr_data, tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    assert main(_args(tiny_itm, flickr_data, reference, "reuse_outputs=false")) == 0
    real = HfBlip2RetrievalBackend.itm_scores
    calls: list[int] = []

    def crash_on_third(self, *args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("simulated crash")
        return real(self, *args)

    monkeypatch.setattr(HfBlip2RetrievalBackend, "itm_scores", crash_on_third)
    run_dir = tmp_path / "run"
    assert main(_args(tiny_itm, flickr_data, run_dir)) == 1
    calls.clear()
    monkeypatch.setattr(HfBlip2RetrievalBackend, "itm_scores", lambda self, *a: calls.append(1) or real(self, *a))
    assert main(_args(tiny_itm, flickr_data, run_dir)) == 0
    total = len(read_jsonl(run_dir / "journal" / "flickr30k.itm.jsonl"))
    assert len(calls) == total - 2  # the two journaled batches were not recomputed
    assert np.array_equal(
        np.load(run_dir / "exports" / "flickr30k_scores.npz")["i2t"],
        np.load(reference / "exports" / "flickr30k_scores.npz")["i2t"],
    )


def test_backend_protocol_mismatch_fails_before_work(tiny_itm, tiny_models, flickr_data, vqa_data, tmp_path, capsys):
    assert (
        main(
            [
                "backend=tiny-itm",
                f"backend.model={tiny_itm}",
                f"data_root={vqa_data}",
                f"hydra.run.dir={tmp_path / 'a'}",
            ]
        )
        == 2
    )
    assert (
        main(
            [
                "backend=tiny-opt",
                f"backend.model={tiny_models['opt']}",
                f"data_root={flickr_data}",
                "task=[flickr30k]",
                f"hydra.run.dir={tmp_path / 'b'}",
            ]
        )
        == 2
    )
    captured = capsys.readouterr()
    err = captured.err + captured.out
    assert "needs a 'generate' backend" in err and "needs a 'retrieval' backend" in err


def test_torchrun_two_ranks_rank_and_score_like_one_process(tiny_itm, flickr_data, tmp_path):
    single, multi = tmp_path / "single", tmp_path / "multi"
    assert main(_args(tiny_itm, flickr_data, single, "reuse_outputs=false")) == 0
    proc = run_torchrun(_args(tiny_itm, flickr_data, multi))
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = np.load(single / "exports" / "flickr30k_scores.npz"), np.load(multi / "exports" / "flickr30k_scores.npz")
    assert np.abs(a["i2t"] - b["i2t"]).max() <= 1e-6 and np.abs(a["t2i"] - b["t2i"]).max() <= 1e-6
    ranks = lambda d: [r["rank"] for r in read_jsonl(d / "samples" / "flickr30k.jsonl")]  # noqa: E731
    assert ranks(single) == ranks(multi)
    assert (multi / "journal" / "flickr30k.itm.rank1.jsonl").is_file()


def test_score_refuses_an_annotation_file_in_another_order(tiny_itm, flickr_data, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(_args(tiny_itm, flickr_data, run_dir, "task.flickr30k.rerank=false")) == 0
    shuffled = tmp_path / "reversed.json"
    shuffled.write_text(json.dumps(list(reversed(read_json(flickr_data / "flickr30k_test.json")))))
    rc = main(
        [
            "score",
            "flickr30k",
            "--annotations",
            str(shuffled),
            "--predictions",
            str(run_dir / "exports" / "flickr30k_scores.npz"),
        ]
    )
    assert rc == 2 and "in another order" in capsys.readouterr().err


def test_a_karpathy_file_of_another_dataset_is_refused(tiny_itm, flickr_data, tmp_path, capsys):
    coco = tmp_path / "dataset_coco.json"
    doc = read_json(flickr_data / "dataset_flickr30k.json")
    coco.write_text(json.dumps({**doc, "dataset": "coco"}))
    rc = main(
        _args(
            tiny_itm,
            flickr_data,
            tmp_path / "run",
            "task.flickr30k.source=karpathy",
            f"task.flickr30k.annotations_file={coco}",
        )
    )
    captured = capsys.readouterr()
    assert rc == 2 and "coco" in captured.err + captured.out


def test_a_bare_npy_is_not_a_predictions_file(flickr_data, tmp_path, capsys):
    np.save(tmp_path / "s.npy", np.zeros((8, 39), dtype=np.float32))
    rc = main(
        [
            "score",
            "flickr30k",
            "--annotations",
            str(flickr_data / "flickr30k_test.json"),
            "--predictions",
            str(tmp_path / "s.npy"),
        ]
    )
    assert rc == 2 and "a single array, not an .npz" in capsys.readouterr().err


def test_gallery_decoding_in_threads_gives_the_scores_of_decoding_in_the_loop(tiny_itm, flickr_data, tmp_path):
    for workers in (0, 3):
        run_dir = tmp_path / f"w{workers}"
        args = _args(tiny_itm, flickr_data, run_dir, "backend.batch_size=3", f"image_workers={workers}")
        assert main(args) == 0
    loop, threads = (np.load(tmp_path / f"w{w}" / "exports" / "flickr30k_scores.npz") for w in (0, 3))
    assert np.array_equal(loop["i2t"], threads["i2t"]) and np.array_equal(loop["t2i"], threads["t2i"])


def test_a_corrupt_gallery_image_names_its_file_with_decoding_in_threads(tiny_itm, flickr_data, tmp_path, capsys):
    import shutil

    data = shutil.copytree(flickr_data, tmp_path / "data")  # the fixture is shared: break a copy
    broken = sorted(data.rglob("*.jpg"))[5]
    broken.write_bytes(b"not a jpeg")
    args = _args(tiny_itm, data, tmp_path / "run", "backend.batch_size=3", "image_workers=3")
    assert main(args) == 2
    captured = capsys.readouterr()
    error = [line for line in (captured.out + captured.err).splitlines() if "error" in line.lower()]
    assert error and broken.name in error[-1], error
