"""The report on synthetic run directories: refusals, protocol diff, published matching, outputs, plots."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blip2_bench.report.cli import report_main
from blip2_bench.report.compare import ComparisonRefusedError, build_report
from blip2_bench.report.plots import task_bars
from blip2_bench.report.protocol import protocol_diff
from blip2_bench.report.render import markdown
from blip2_bench.report.runs import UnusableInputError, find_runs, load_run
from tests.unit.test_report_synthetic import quiz_scores, vqa_results, vqa_run, write_run

N = 120


@pytest.fixture
def scores() -> np.ndarray:
    return quiz_scores(np.random.default_rng(1), N, 0.4)


def test_protocol_diff_names_a_changed_prompt_scorer_and_dtype(tmp_path, scores):
    a = vqa_run(tmp_path / "a", scores)
    b = vqa_run(tmp_path / "b", scores, prompt="Q: {} A:", scorer="lavis", dtype="float16")
    diff = {(row.section, row.key): row.values for row in protocol_diff([load_run(a), load_run(b)])}
    assert diff[("vqav2", "prompt (as used)")] == ("Question: {} Answer:", "Q: {} A:")
    assert diff[("vqav2", "settings.scorer")] == ("official", "lavis")
    assert diff[("numerics", "dtype")] == ("float32", "float16")
    assert diff[("numerics", "component_dtypes.language_model")] == ("float32", "float16")
    assert ("vqav2", "sample_set") not in diff  # only what differs


def test_protocol_diff_names_a_backend_plugins_own_options(tmp_path, scores):
    def with_options(path, **options):
        results, records = vqa_results(scores)
        results["config"]["backend"] = {"name": "pairing-a", "model": "local/pairing-a", **options}
        return load_run(write_run(path, results, {"vqav2": records}))

    a = with_options(tmp_path / "a", seed=0, quantize="none")
    b = with_options(tmp_path / "b", seed=1, quantize="none")
    diff = {(row.section, row.key): row.values for row in protocol_diff([a, b])}
    assert diff[("pairing", "backend.seed")] == ("0", "1")
    assert ("pairing", "backend.quantize") not in diff and ("pairing", "backend.model") not in diff


def test_diff_command_prints_only_the_diff(tmp_path, scores, capsys):
    a = vqa_run(tmp_path / "a", scores)
    b = vqa_run(tmp_path / "b", scores, scorer="lavis")
    assert report_main(["--diff", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "settings.scorer" in out and "official" in out and "lavis" in out and "comparison" not in out
    assert not (tmp_path / "a" / "report").exists()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sample_set": "s2"}, "sample_set differs"),
        ({"version": 2}, "version differs"),
        ({"n_predicted": N - 1}, "n_predicted differs"),
    ],
)
def test_report_refuses_runs_on_other_samples_or_task_versions(tmp_path, scores, capsys, change, reason):
    a = vqa_run(tmp_path / "a", scores)
    b = vqa_run(tmp_path / "b", scores, backend="pairing-b", **change)
    with pytest.raises(ComparisonRefusedError, match=reason):
        build_report(find_runs([a, b]))
    assert report_main([str(a), str(b), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert reason in err and str(a) in err and str(b) in err and not (tmp_path / "out").exists()


def test_unfinished_or_malformed_runs_are_unusable_input_naming_the_file(tmp_path, scores, capsys):
    a = vqa_run(tmp_path / "a", scores)
    (a / "COMPLETE").unlink()
    with pytest.raises(UnusableInputError, match="no COMPLETE"):
        load_run(a)
    b = vqa_run(tmp_path / "b", scores)
    (b / "results.json").write_text("{not json")
    assert report_main([str(b)]) == 2
    assert f"{b / 'results.json'}: malformed JSON" in capsys.readouterr().err
    c = vqa_run(tmp_path / "c", scores)
    (c / "samples" / "vqav2.jsonl").write_text('{"id": "1", "score": 1}\nnope\n')
    with pytest.raises(UnusableInputError, match="vqav2.jsonl: line 2 is not JSON"):
        build_report(find_runs([c]))


def test_cells_paired_lines_and_holm_with_three_pairings(tmp_path, scores):
    rng = np.random.default_rng(9)
    better = np.where(rng.random(N) < 0.3, 100.0, scores)
    runs = [
        vqa_run(tmp_path / "a", scores),
        vqa_run(tmp_path / "b", better, backend="pairing-b"),
        vqa_run(tmp_path / "c", scores, backend="pairing-c"),
    ]
    report = build_report(find_runs(runs), resamples=800)
    (task,) = report.tasks
    assert task.cells["pairing-a"]["accuracy"].value == pytest.approx(np.mean(scores))
    ci = task.cells["pairing-a"]["accuracy"].ci
    assert ci.lo < np.mean(scores) < ci.hi
    assert task.cells["pairing-b"]["accuracy"].best and not task.cells["pairing-a"]["accuracy"].best
    lines = {line.b: line for line in task.paired if line.metric.primary}
    assert task.holm and set(lines) == {"pairing-b", "pairing-c"}
    assert lines["pairing-b"].diff.delta == pytest.approx(np.mean(better) - np.mean(scores))
    assert lines["pairing-b"].diff.p_adjusted < 0.01 and lines["pairing-b"].diff.lo > 0
    assert lines["pairing-c"].diff.p == 1.0 and lines["pairing-c"].diff.p_adjusted == 1.0


def test_published_numbers_match_only_the_same_checkpoint_and_protocol(tmp_path, scores):
    hub = dict(backend="blip2-flan-t5-xl", model="Salesforce/blip2-flan-t5-xl", family="t5")
    results, records = vqa_results(scores, scorer="lavis", **hub)
    results["tasks"]["vqav2"]["n_predicted"] = results["tasks"]["vqav2"]["n_samples"] = 214354
    full = write_run(tmp_path / "full", results, {"vqav2": records})
    (task,) = build_report(find_runs([full]), resamples=0).tasks
    paper, lavis = task.references["blip2-flan-t5-xl"]
    assert paper.matched and paper.values == {"accuracy": 63.1}
    assert lavis.matched and lavis.values == {"accuracy": 63.13}
    official = vqa_run(tmp_path / "official", scores, scorer="official", **hub)
    (task,) = build_report(find_runs([official]), resamples=0).tasks
    paper = task.references["blip2-flan-t5-xl"][0]
    assert not paper.matched and 'scorer "official", paper used "lavis"' in paper.reason
    assert f"scored {N} of the 214,354" in paper.reason
    local = vqa_run(tmp_path / "local", scores)
    (task,) = build_report(find_runs([local]), resamples=0).tasks
    assert "no published vqav2 number for checkpoint local/pairing-a" in task.references["pairing-a"][0].reason


def test_opt_with_the_t5_prompt_matches_lavis_not_the_paper(tmp_path, scores):
    results, records = vqa_results(
        scores, scorer="lavis", backend="opt", model="Salesforce/blip2-opt-2.7b", prompt="Question: {} Short answer:"
    )
    results["tasks"]["vqav2"]["n_predicted"] = 214354
    run = write_run(tmp_path / "r", results, {"vqav2": records})
    (task,) = build_report(find_runs([run]), resamples=0).tasks
    paper, lavis = task.references["opt"]
    assert "prompt 'Question: {} Short answer:', paper used 'Question: {} Answer:'" in paper.reason
    assert lavis.matched and lavis.values["accuracy"] == 51.88


def test_bar_heights_and_error_bars_read_back_from_the_figure(tmp_path, scores):
    better = np.where(np.random.default_rng(2).random(N) < 0.2, 100.0, scores)
    runs = [vqa_run(tmp_path / "a", scores), vqa_run(tmp_path / "b", better, backend="pairing-b")]
    (task,) = build_report(find_runs(runs), resamples=300).tasks
    png, data = task_bars(task)
    assert png.startswith(b"\x89PNG")
    bars = {b["series"]: b["heights"] for b in data["bars"]}
    for label in ("pairing-a", "pairing-b"):
        assert bars[label] == pytest.approx([task.cells[label][k].value for k in data["metrics"]])
    spans = data["errorbars"]
    expected = [
        [task.cells[lab][k].ci.lo, task.cells[lab][k].ci.hi]
        for lab in ("pairing-a", "pairing-b")
        for k in data["metrics"]
    ]
    assert np.allclose(np.array(spans), np.array(expected), rtol=0, atol=1e-9)


def test_report_writes_every_output_self_contained(tmp_path, scores, capsys):
    runs = [
        vqa_run(tmp_path / "sweep" / "a", scores),
        vqa_run(tmp_path / "sweep" / "b", scores[::-1].copy(), backend="pairing-b"),
    ]
    assert report_main([str(tmp_path / "sweep"), "--resamples", "200"]) == 0
    out = tmp_path / "sweep" / "report"
    printed = capsys.readouterr().out
    assert "| pairing | vqav2 acc ★ |" in printed and "pairing-b − pairing-a = " in printed
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "http" not in html.replace("http-equiv", "") and "<script" not in html
    data = json.loads((out / "report.json").read_text())
    assert data["tasks"][0]["paired"][0]["text"].startswith("pairing-b − pairing-a = ")
    assert "pairing,task,task_version,metric" in (out / "report.csv").read_text()
    assert (out / "plots" / "vqav2.png").read_bytes().startswith(b"\x89PNG") and runs


def test_the_sweep_callback_writes_the_report_of_the_sweep(tmp_path, scores):
    from omegaconf import OmegaConf

    from blip2_bench.report.sweep_callback import ReportCallback

    vqa_run(tmp_path / "sweep" / "a" / "vqav2-1", scores)
    vqa_run(tmp_path / "sweep" / "b" / "vqav2-2", scores[::-1].copy(), backend="pairing-b")
    ReportCallback().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "sweep")}}}))
    text = (tmp_path / "sweep" / "report" / "report.md").read_text()
    assert "| pairing-a |" in text and "| pairing-b |" in text
    (tmp_path / "bad").mkdir()
    ReportCallback().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "bad")}}}))
    assert not (tmp_path / "bad" / "report").exists()  # logged, never raised: the sweep's runs stand


def test_published_vs_measured_chart_draws_both_values(tmp_path, scores):
    from blip2_bench.report.plots import published_chart

    results, records = vqa_results(
        scores, scorer="lavis", backend="t5xl", model="Salesforce/blip2-flan-t5-xl", family="t5"
    )
    results["tasks"]["vqav2"]["n_predicted"] = 214354
    report = build_report(find_runs([write_run(tmp_path / "r", results, {"vqav2": records})]), resamples=0)
    png, data = published_chart(report)
    bars = {b["series"]: b["heights"] for b in data["bars"]}
    assert bars["measured"] == pytest.approx([np.mean(scores)] * 2) and bars["published"] == [63.1, 63.13]
    assert png.startswith(b"\x89PNG") and "63.1 (Δ " in markdown(report)


def test_protocol_diff_names_the_batch_order_runs_from_before_had(tmp_path, scores):
    def with_order(path, order):
        results, records = vqa_results(scores)
        if order is not None:
            results["config"]["batch_order"] = order
        return load_run(write_run(path, results, {"vqav2": records}))

    older, length = with_order(tmp_path / "a", None), with_order(tmp_path / "b", "length")  # a run from before
    diff = {(row.section, row.key): row.values for row in protocol_diff([older, length])}
    assert diff[("numerics", "batch_order")] == ("image", "length")
    assert ("numerics", "batch_order") not in {
        (row.section, row.key) for row in protocol_diff([older, with_order(tmp_path / "c", "image")])
    }
