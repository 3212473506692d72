"""`blip2-bench check`: passes an identical run, fails a planted degradation, exit 2 on unusable input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blip2_bench.report.check import parse_tolerance
from blip2_bench.report.cli import check_main
from blip2_bench.report.runs import UnusableInputError
from tests.unit.test_report_synthetic import quiz_scores, vqa_results, vqa_run, write_run

N = 300


@pytest.fixture
def scores() -> np.ndarray:
    return quiz_scores(np.random.default_rng(4), N, 0.6)


def _check(baseline, run, *extra: str) -> int:
    return check_main(["--baseline", str(baseline), "--run", str(run), "--resamples", "500", *extra])


def test_an_identical_run_passes(tmp_path, scores, capsys):
    base = vqa_run(tmp_path / "base", scores)
    again = vqa_run(tmp_path / "again", scores.copy())
    assert _check(base, again) == 0
    assert "PASS: all 4 metrics held" in capsys.readouterr().out
    assert _check(base, base) == 0


def test_a_planted_degradation_fails_with_a_readable_table(tmp_path, scores, capsys):
    worse = scores.copy()
    worse[np.flatnonzero(worse == 100)[::4]] = 0.0  # a quarter of the right answers now wrong
    base = vqa_run(tmp_path / "base", scores)
    run = vqa_run(tmp_path / "run", worse)
    assert _check(base, run, "--json", str(tmp_path / "v.json")) == 1
    out = capsys.readouterr().out
    assert "| vqav2 | acc |" in out and "FELL" in out and "REGRESSION" in out
    verdicts = json.loads((tmp_path / "v.json").read_text())
    assert not verdicts["passed"]
    acc = next(v for v in verdicts["verdicts"] if v["metric"] == "accuracy")
    assert acc["fell"] and acc["delta"] == pytest.approx(np.mean(worse) - np.mean(scores)) and acc["ci"][1] < 0


def test_a_drop_within_tolerance_or_within_noise_holds(tmp_path, scores, capsys):
    worse = scores.copy()
    worse[np.flatnonzero(worse == 100)[:15]] = 0.0  # 5 points on 300 questions, nothing else changed
    base, run = vqa_run(tmp_path / "base", scores), vqa_run(tmp_path / "run", worse)
    assert _check(base, run, "--tolerance", "6") == 0  # within tolerance
    assert _check(base, run, "--tolerance", "0") == 1  # paired: beyond noise
    noisy = np.random.default_rng(8).permutation(scores)  # same accuracy, different questions right
    noisy[np.flatnonzero(noisy == 100)[:3]] = 0.0
    run2 = vqa_run(tmp_path / "run2", noisy)
    assert _check(base, run2, "--tolerance", "0") == 0
    assert "held (drop within noise)" in capsys.readouterr().out


def test_a_baseline_without_samples_uses_the_runs_interval(tmp_path, scores):
    results, _ = vqa_results(scores)
    (tmp_path / "committed").mkdir()
    (tmp_path / "committed" / "results.json").write_text(json.dumps(results))
    worse = np.where(scores == 100, np.where(np.arange(N) % 3 == 0, 0.0, 100.0), scores)
    assert _check(tmp_path / "committed" / "results.json", vqa_run(tmp_path / "same", scores)) == 0
    assert _check(tmp_path / "committed" / "results.json", vqa_run(tmp_path / "worse", worse)) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [({"sample_set": "other"}, "sample_set differs"), ({"version": 2}, "version differs")],
)
def test_mismatched_runs_are_unusable(tmp_path, scores, capsys, change, message):
    base = vqa_run(tmp_path / "base", scores)
    run = vqa_run(tmp_path / "run", scores, **change)
    assert _check(base, run) == 2
    assert message in capsys.readouterr().err


def test_missing_metrics_and_unreadable_files_are_unusable(tmp_path, scores, capsys):
    base = vqa_run(tmp_path / "base", scores)
    results, records = vqa_results(scores)
    del results["tasks"]["vqav2"]["table"]["acc[number]"]
    run = write_run(tmp_path / "run", results, {"vqav2": records})
    assert _check(base, run) == 2
    assert "has no metric 'acc[number]'" in capsys.readouterr().err
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "COMPLETE").write_text("")
    (tmp_path / "broken" / "results.json").write_text("[1, 2")
    assert _check(base, tmp_path / "broken") == 2
    assert "broken/results.json: malformed JSON" in capsys.readouterr().err
    assert _check(base, tmp_path / "nowhere") == 2


def test_tolerance_specs():
    t = parse_tolerance(["0.5", "vqav2.accuracy=2%", "CIDEr x100=3"])
    assert t.allowed("vqav2", "acc[other]", 50) == 0.5
    assert t.allowed("vqav2", "accuracy", 50) == pytest.approx(1.0)
    assert t.allowed("coco_caption", "CIDEr x100", 140) == 3
    with pytest.raises(UnusableInputError):
        parse_tolerance(["lots"])


def test_folders_of_runs_are_matched_by_pairing(tmp_path, scores, capsys):
    worse = scores.copy()
    worse[np.flatnonzero(worse == 100)[::4]] = 0.0
    for side, b_scores in (("base", scores), ("run", worse)):
        vqa_run(tmp_path / side / "x", scores.copy(), backend="pairing-a", model="local/a")
        vqa_run(tmp_path / side / "y", b_scores, backend="pairing-b", model="local/b")
    assert _check(tmp_path / "base", tmp_path / "run") == 1
    out = capsys.readouterr().out
    assert "| pairing-b | vqav2 | acc |" in out and "FELL" in out and "pairing-b vqav2 acc" in out
    assert "| pairing-a | vqav2 | acc |" in out.split("REGRESSION")[0]  # the held pairing is listed too
    assert "pairing-a vqav2" not in out.split("REGRESSION")[1]


def test_a_baseline_pairing_without_its_run_or_a_doubled_pairing_is_unusable(tmp_path, scores, capsys):
    vqa_run(tmp_path / "base" / "x", scores, backend="pairing-a", model="local/a")
    vqa_run(tmp_path / "base" / "y", scores, backend="pairing-b", model="local/b")
    vqa_run(tmp_path / "run" / "x", scores, backend="pairing-a", model="local/a")
    assert _check(tmp_path / "base", tmp_path / "run") == 2
    assert "no run of pairing pairing-b" in capsys.readouterr().err
    vqa_run(tmp_path / "run" / "z", scores, backend="pairing-a", model="local/a")
    assert _check(tmp_path / "base", tmp_path / "run") == 2
    assert "two runs of pairing pairing-a" in capsys.readouterr().err


def test_save_baseline_keeps_what_check_needs_and_nothing_else(tmp_path, scores):
    from blip2_bench.cli import main

    for name in ("a", "b"):
        run = vqa_run(tmp_path / "runs" / name, scores, backend=f"pairing-{name}", model=f"local/{name}")
        (run / "journal").mkdir()
        (run / "journal" / "vqav2.jsonl").write_text("{}\n")
    assert main(["save-baseline", str(tmp_path / "runs"), str(tmp_path / "baseline")]) == 0
    saved = sorted(p.relative_to(tmp_path / "baseline").as_posix() for p in (tmp_path / "baseline").rglob("*"))
    assert saved == [
        f"pairing-{n}{suffix}"
        for n in ("a", "b")
        for suffix in ("", "/COMPLETE", "/results.json", "/samples", "/samples/vqav2.jsonl")
    ]
    assert _check(tmp_path / "baseline", tmp_path / "runs") == 0
    # Saving again replaces the baseline whole; an unfinished source is refused and changes nothing.
    (tmp_path / "runs" / "b" / "COMPLETE").unlink()
    assert main(["save-baseline", str(tmp_path / "runs"), str(tmp_path / "baseline")]) == 2
    assert (tmp_path / "baseline" / "pairing-b" / "COMPLETE").is_file()
