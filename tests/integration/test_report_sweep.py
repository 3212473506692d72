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
        args = [f"backend=tiny-{family}", f"backend.model={tiny_models[family]}",
                f"data_root={vqa_fixture_master.root}", "task=[vqav2]", f"hydra.run.dir={root / family}"]
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
