"""The embedded default and the CI quality gate, through the real CLI on the shipped trained pairings.

`blip2-bench` with no arguments prints one comparison table; the clean run passes the committed
baseline (results/baseline/); each planted degradation (a wrong prompt, corrupted image
preprocessing, a perturbed checkpoint, a truncated sample set) fails the gate.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from blip2_bench.cli import main
from blip2_bench.minibench.build import make_minibench
from blip2_bench.paths import minibench_model_dir

REPO = Path(__file__).resolve().parents[2]
BASELINE = REPO / "results" / "baseline"
GENERATION_TASKS = "task=[vqav2,coco_caption,nocaps]"

pytestmark = [pytest.mark.slow, pytest.mark.java]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_minibench(tmp_path_factory.mktemp("minibench") / "data")


def _gate(run: Path, baseline: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["check", "--baseline", str(baseline), "--run", str(run)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_no_arguments_runs_the_default_and_it_passes_the_committed_baseline(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.count("# blip2-bench comparison") == 1 and "run directory:" not in out  # one table, not three
    rows = {line.split(" | ")[0].lstrip("| ") for line in out.splitlines() if line.startswith("| mini-")}
    assert rows == {"mini-opt", "mini-t5", "mini-itm"}
    assert "mini-t5 − mini-opt = " in out  # a paired difference per generation task
    report = tmp_path / "results" / "default" / "report"
    assert (report / "report.html").is_file() and (report / "plots" / "plots.json").is_file()
    code, text = _gate(tmp_path / "results" / "default", BASELINE, capsys)
    assert code == 0, text
    assert "PASS: all" in text


def _copy_model(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / f"{name}-copy"
    shutil.copytree(minibench_model_dir(name), folder)
    return folder


def _wrong_prompt(tmp_path: Path, name: str) -> list[str]:
    return ['task.vqav2.prompt="{}"']  # the bare question, not "Question: {} Answer:"


def _corrupt_preprocessing(tmp_path: Path, name: str) -> list[str]:
    folder = _copy_model(tmp_path, name)
    config_file = folder / "processor_config.json"
    config = json.loads(config_file.read_text())
    config["image_processor"].update(image_mean=[0.0, 0.0, 0.0], image_std=[1.0, 1.0, 1.0])  # no normalization
    config_file.write_text(json.dumps(config))
    return [f"backend.model={folder}"]


def _perturb_checkpoint(tmp_path: Path, name: str) -> list[str]:
    import torch
    from safetensors.torch import load_file, save_file

    folder = _copy_model(tmp_path, name)
    weights = load_file(folder / "model.safetensors")
    noise = torch.Generator().manual_seed(0)
    for key, value in weights.items():
        if value.is_floating_point() and value.numel() > 1:  # a fraction of each tensor's spread
            weights[key] = value + NOISE[name] * value.std() * torch.randn(value.shape, generator=noise)
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return [f"backend.model={folder}"]


TASKS = {"mini-opt": GENERATION_TASKS, "mini-itm": "task=[flickr30k]"}
NOISE = {"mini-opt": 0.2, "mini-itm": 1.0}  # the retrieval model shrugs off 20% (measured: all metrics held)


@pytest.mark.parametrize(
    "name, degrade",
    [
        ("mini-opt", _wrong_prompt),
        ("mini-opt", _corrupt_preprocessing),
        ("mini-opt", _perturb_checkpoint),
        ("mini-itm", _corrupt_preprocessing),
        ("mini-itm", _perturb_checkpoint),
    ],
)
def test_the_gate_fails_a_planted_degradation_with_a_readable_table(name, degrade, data, tmp_path, capsys):
    run = tmp_path / "run"
    args = [f"backend={name}", f"data_root={data}", TASKS[name], f"hydra.run.dir={run}"]
    assert main([*args, *degrade(tmp_path, name)]) == 0
    code, text = _gate(run, BASELINE / name, capsys)
    assert code == 1, text
    assert "| pairing | task | metric | baseline | run | Δ |" in text
    fell = [line for line in text.splitlines() if line.endswith("| FELL |")]
    assert fell and all(line.startswith(f"| {name} |") and float(line.split(" | ")[5]) < -1.0 for line in fell)
    assert text.strip().splitlines()[-1].startswith("REGRESSION:")


def test_the_gate_refuses_a_truncated_sample_set(data, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["backend=mini-opt", f"data_root={data}", GENERATION_TASKS, "limit=30", f"hydra.run.dir={run}"]) == 0
    code, text = _gate(run, BASELINE / "mini-opt", capsys)
    assert code == 2, text
    assert "sample_set differs" in text and "n_predicted differs" in text
