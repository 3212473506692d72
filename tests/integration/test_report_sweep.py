"""Two tiny pairings through the real CLI, then `report` and `check` on their run directories."""

from __future__ import annotations

import json

import pytest

from blip2_bench.cli import main
from blip2_bench.report.cli import check_main, report_main


@pytest.fixture(scope="module")
def sweep(tiny_models, vqa_fixture_master, tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    for family in ("opt", "t5"):
        args = [
            f"backend=tiny-{family}",
            f"backend.model={tiny_models[family]}",
            f"data_root={vqa_fixture_master.root}",
            "task=[vqav2]",
            f"hydra.run.dir={root / family}",
        ]
        assert main(args) == 0
    return root


@pytest.mark.slow
def test_report_of_two_pairings_has_table_html_and_plots_with_the_measured_bars(sweep, capsys):
    assert report_main([str(sweep), "--resamples", "300"]) == 0
    printed = capsys.readouterr().out
    assert "| pairing | vqav2 acc ★ |" in printed and "| tiny-opt |" in printed and "| tiny-t5 |" in printed
    assert "tiny-t5 − tiny-opt = " in printed and ", p = " in printed
    assert "no published vqav2 number for checkpoint" in printed  # local weights: the reason, not a number
    assert "prompt (as used)" in printed  # the protocol diff: the families' prompts differ
    out = sweep / "report"
    for name in ("report.md", "report.csv", "report.json", "report.html", "plots/vqav2.png"):
        assert (out / name).is_file(), name
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 1 and "<script" not in html
    drawn = json.loads((out / "plots" / "plots.json").read_text())["vqav2.png"]
    bars = {b["series"]: b["heights"] for b in drawn["bars"]}
    for family in ("opt", "t5"):
        table = json.loads((sweep / family / "results.json").read_text())["tasks"]["vqav2"]["table"]
        keys = ["accuracy", *(f"acc[{t}]" for t in ("yes/no", "number", "other") if f"acc[{t}]" in table)]
        assert bars[f"tiny-{family}"] == pytest.approx([table[k] for k in keys])
    data = json.loads((out / "report.json").read_text())
    (task,) = data["tasks"]
    assert task["units"] == 12 and all(c["accuracy"]["ci"] is not None for c in task["cells"].values())


@pytest.mark.slow
def test_check_passes_the_same_run_and_diff_names_the_prompts(sweep, capsys):
    assert check_main(["--baseline", str(sweep / "opt"), "--run", str(sweep / "opt"), "--resamples", "200"]) == 0
    assert "PASS" in capsys.readouterr().out
    assert report_main(["--diff", str(sweep / "opt"), str(sweep / "t5")]) == 0
    diff = capsys.readouterr().out
    assert "Question: {} Answer:" in diff and "Question: {} Short answer:" in diff


@pytest.mark.slow
@pytest.mark.java
def test_a_multirun_sweep_writes_its_own_report_in_its_own_folder(tmp_path, monkeypatch, capsys):
    from blip2_bench.minibench.build import make_minibench

    data = make_minibench(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    first = ["-m", "backend=mini-opt,mini-t5", "task=[vqav2]", f"data_root={data}"]
    assert main(first) == 0
    assert main(["-m", "backend=mini-opt", "task=[vqav2]", f"data_root={data}", "limit=8"]) == 0
    sweeps = sorted((tmp_path / "results" / "multirun").iterdir())
    assert len(sweeps) == 2  # one folder per sweep, named from its overrides
    reports = {s.name: json.loads((s / "report" / "report.json").read_text()) for s in sweeps}
    big = next(name for name in reports if "mini-t5" in name)
    assert "mini-opt,mini-t5" in big
    labels = {name: sorted(p["label"] for p in report["pairings"]) for name, report in reports.items()}
    assert labels[big] == ["mini-opt", "mini-t5"]  # only this sweep's runs
    (small,) = set(reports) - {big}
    assert labels[small] == ["mini-opt"]
    assert (tmp_path / "results" / "multirun" / big / "report" / "report.html").is_file()
    assert main(first) == 0  # the same sweep again resumes in its folder: nothing new is made
    assert sorted((tmp_path / "results" / "multirun").iterdir()) == sweeps
