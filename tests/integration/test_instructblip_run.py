"""InstructBLIP through the real CLI: VQAv2 and captioning end to end on tiny models, a public config
resolving its hub id offline, and the extension check (nothing outside the backend's own files)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from blip2_bench.cli import main
from blip2_bench.demo.caption_fixture import write_caption_fixture
from blip2_bench.demo.tiny_instructblip import build_tiny_instructblip, write_hub_snapshot
from tests.conftest import read_json, read_jsonl

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
OWN_FILES = {
    "blip2_bench/backends/hf_instructblip.py",
    "blip2_bench/demo/tiny_instructblip.py",
    *(f"conf/backend/{p.name}" for p in (REPO / "conf" / "backend").glob("*instructblip*.yaml")),
}
CONFIG = {"t5": "tiny-instructblip-t5", "vicuna": "tiny-instructblip-vicuna"}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("instructblip")
    return {family: build_tiny_instructblip(root / family, family) for family in CONFIG}


def run_cli(family: str, model: Path, data: Path, run_dir: Path, *extra: str) -> int:
    args = [f"backend={CONFIG[family]}", f"backend.model={model}", f"data_root={data}", f"hydra.run.dir={run_dir}"]
    return main([*args, *extra])


@pytest.mark.parametrize("family", list(CONFIG))
def test_vqav2_runs_end_to_end_with_the_short_answer_prompt(family, models, vqa_data, tmp_path):
    run_dir = tmp_path / "run"
    assert run_cli(family, models[family], vqa_data, run_dir, "task=[vqav2]") == 0
    assert (run_dir / "COMPLETE").is_file() and (run_dir / "exports" / "vqav2_val2014_results.json").is_file()
    results = read_json(run_dir / "results.json")
    task, backend = results["tasks"]["vqav2"], results["backend"]
    assert task["n_samples"] == task["n_predicted"] == 12 and task["metric_impl"] == "vqa_accuracy:official"
    assert backend["impl"] == "hf_instructblip" and backend["family"] == "t5"  # the prompt set the task used
    assert backend["llm_family"] == ("opt" if family == "vicuna" else "t5")
    assert backend["qformer_instruction"]["max_length"] == 128
    records = read_jsonl(run_dir / "samples" / "vqav2.jsonl")
    # InstructBLIP's VQA prompt for both LLMs; the Q-Former read the same text (provenance says so).
    assert all(r["prompt"].startswith("Question: ") and r["prompt"].endswith(" Short answer:") for r in records)
    assert all(r["prediction"] == r["raw_output"].split("\n")[0].strip() for r in records)
    # The same config again: re-reported from its journal, nothing recomputed.
    assert run_cli(family, models[family], vqa_data, run_dir, "task=[vqav2]") == 0
    assert read_json(run_dir / "results.json")["tasks"]["vqav2"]["scores"] == task["scores"]


def test_the_report_shows_the_prompt_each_pairing_was_asked(models, tiny_models, vqa_data, tmp_path, capsys):
    blip2 = ["backend=tiny-opt", f"backend.model={tiny_models['opt']}", f"data_root={vqa_data}"]
    assert main([*blip2, f"hydra.run.dir={tmp_path / 'blip2'}"]) == 0
    assert run_cli("vicuna", models["vicuna"], vqa_data, tmp_path / "instructblip") == 0
    capsys.readouterr()
    assert main(["report", "--diff", str(tmp_path / "blip2"), str(tmp_path / "instructblip")]) == 0
    diff = capsys.readouterr().out
    row = r"\| vqav2 \| prompt \(as used\) \| Question: \{\} Answer: \| Question: \{\} Short answer: \|"
    assert re.search(row, diff)
    assert "| backend.impl | hf_blip2 | hf_instructblip |" in diff


@pytest.mark.java
def test_captioning_runs_with_instructblips_own_caption_protocol(models, tmp_path):
    """LAVIS's InstructBLIP caption configs: "A short image caption.", 5 beams, 10..80 tokens, and
    generate()'s repetition penalty 1.5; they are task options, recorded with the task."""
    data = write_caption_fixture(tmp_path / "captions")
    protocol = [
        f"task.{t}.{k}={v}"
        for t in ("coco_caption", "nocaps")
        for k, v in [
            ("prompt", "'A short image caption.'"),
            ("max_new_tokens", 80),
            ("min_new_tokens", 10),
            ("repetition_penalty", 1.5),
        ]
    ]
    run_dir = tmp_path / "run"
    args = ["task=[coco_caption,nocaps]", "limit=4", "task.coco_caption.spice=off", "task.nocaps.spice=off"]
    assert run_cli("t5", models["t5"], data.root, run_dir, *args, *protocol) == 0
    results = read_json(run_dir / "results.json")
    for name in ("coco_caption", "nocaps"):
        settings = results["tasks"][name]["settings"]
        assert settings["prompt"] == "A short image caption."
        assert settings["generation"]["repetition_penalty"] == 1.5 and settings["generation"]["max_new_tokens"] == 80
        records = read_jsonl(run_dir / "samples" / f"{name}.jsonl")
        assert len(records) == 4 and all(r["prompt"] == "A short image caption." for r in records)
    assert "CIDEr" in results["tasks"]["coco_caption"]["scores"]


def test_a_public_config_resolves_its_hub_id_offline(tmp_path, vqa_fixture_master):
    """`backend=instructblip-flan-t5-xl` unchanged: its hub id found in a local hub cache (a tiny
    model at the checkpoint's 224 px), no network, no local path anywhere."""
    folder = build_tiny_instructblip(tmp_path / "tiny224", "t5", image_size=224)
    snapshot = write_hub_snapshot(tmp_path / "hub", "Salesforce/instructblip-flan-t5-xl", folder)
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    run_dir = tmp_path / "run"
    args = ["backend=instructblip-flan-t5-xl", f"data_root={vqa_fixture_master.root}", "limit=2"]
    proc = subprocess.run(
        [sys.executable, "-m", "blip2_bench.cli", *args, "backend.batch_size=2", f"hydra.run.dir={run_dir}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    backend = read_json(run_dir / "results.json")["backend"]
    assert backend["model"] == "Salesforce/instructblip-flan-t5-xl" and backend["weights"] is None
    assert backend["commit"] == snapshot.name and backend["image_processing"]["size"] == {"height": 224, "width": 224}


# --- the extension check -----------------------------------------------------------------------
def test_no_file_outside_the_backends_own_knows_about_instructblip():
    """The backend came in through the open registry: its file, its configs, its tiny-model builder.
    No shared module, task or config names it (tests and the README aside)."""
    scanned = [
        *REPO.glob("blip2_bench/**/*.py"),
        *REPO.glob("tasks/**/*.py"),
        *REPO.glob("conf/**/*.yaml"),
        REPO / "pyproject.toml",
    ]
    mentions = sorted(
        str(p.relative_to(REPO))
        for p in scanned
        if str(p.relative_to(REPO)) not in OWN_FILES and "instructblip" in p.read_text(encoding="utf-8").lower()
    )
    assert mentions == []


def test_the_backend_file_runs_as_a_plugin_from_any_folder(models, vqa_data, tmp_path):
    """Copied out of the package under another name, with its config in another conf folder, the same
    file runs through backend_dirs and gives the built-in's answers."""
    plugins = tmp_path / "plugins"
    (plugins / "backends").mkdir(parents=True)
    shutil.copy(REPO / "blip2_bench" / "backends" / "hf_instructblip.py", plugins / "backends" / "ib_copy.py")
    (plugins / "conf" / "backend").mkdir(parents=True)
    config = (REPO / "conf" / "backend" / "tiny-instructblip-t5.yaml").read_text(encoding="utf-8")
    config = config.replace("name: tiny-instructblip-t5", "name: ib-copy")
    config = config.replace("impl: hf_instructblip", "impl: ib_copy")
    (plugins / "conf" / "backend" / "ib-copy.yaml").write_text(config, encoding="utf-8")
    common = [f"backend.model={models['t5']}", f"data_root={vqa_data}", "task=[vqav2]"]
    plugin = [
        "backend=ib-copy",
        f"backend_dirs=[{plugins / 'backends'}]",
        f"hydra.searchpath=[file://{plugins / 'conf'}]",
        f"hydra.run.dir={tmp_path / 'plugin'}",
    ]
    assert main([*plugin, *common]) == 0
    assert main(["backend=tiny-instructblip-t5", f"hydra.run.dir={tmp_path / 'builtin'}", *common]) == 0
    assert read_json(tmp_path / "plugin" / "results.json")["backend"]["impl"] == "ib_copy"

    def answers(run: str) -> list[str]:
        return [r["raw_output"] for r in read_jsonl(tmp_path / run / "samples" / "vqav2.jsonl")]

    assert answers("plugin") == answers("builtin")
