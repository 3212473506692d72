"""The InstructBLIP backend without weights: options, traits, identity, checkpoint checks, configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

import blip2_bench.cli  # noqa: F401  (registers the run-name resolver)
from blip2_bench.backends.hf_instructblip import (
    ARCHITECTURE,
    HfInstructBlipBackend,
    HfInstructBlipOptions,
    check_checkpoint,
    resolve_dtype,
)
from blip2_bench.cli import check_override_keys
from blip2_bench.config import split_run_config
from blip2_bench.errors import BadInputError
from blip2_bench.paths import conf_dir
from blip2_bench.plugins import load_backend_class

PUBLIC = ["instructblip-vicuna-7b", "instructblip-vicuna-13b", "instructblip-flan-t5-xl", "instructblip-flan-t5-xxl"]
TINY = ["tiny-instructblip-t5", "tiny-instructblip-vicuna"]


def _options(**kw) -> HfInstructBlipOptions:
    return HfInstructBlipOptions(**{"name": "t", "model": "Salesforce/instructblip-flan-t5-xl", **kw})


def _config(**kw) -> dict:
    return {
        "model_type": "instructblip",
        "architectures": [ARCHITECTURE],
        "vision_config": {"image_size": 224},
        **kw,
    }


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"family": "vicuna"}, r"backend.family must be 'opt' \(Vicuna: decoder-only\) or 't5'"),
        ({"family": "itm"}, "backend.family must be 'opt'"),
        ({"prompt_family": "llama"}, "backend.prompt_family must be one of"),
        ({"qformer_max_length": 0}, "qformer_max_length must be >= 1"),
        ({"family": "t5", "dtype": "float16"}, "float16 is refused for Flan-T5"),
        ({"model": ""}, "backend.model is empty"),
        ({"device": "tpu"}, "backend.device must be"),
    ],
)
def test_bad_options_are_refused_in_one_line(kw, message):
    with pytest.raises(BadInputError, match=message):
        _options(**kw)


def test_the_tasks_see_the_prompt_family_not_the_llm():
    # InstructBLIP is evaluated with the short-answer prompts for both LLMs.
    traits = HfInstructBlipBackend.traits(_options(family="opt", image_size=224))
    assert (traits.family, traits.image_size) == ("t5", 224)
    assert HfInstructBlipBackend.traits(_options(prompt_family="opt")).family == "opt"


def test_auto_dtype_is_lavis_precision_on_gpu_and_fp32_on_cpu():
    assert resolve_dtype(_options(family="opt"), torch.device("cuda")) == torch.float16  # Vicuna
    assert resolve_dtype(_options(family="t5"), torch.device("cuda")) == torch.bfloat16  # Flan-T5
    assert resolve_dtype(_options(family="opt"), torch.device("cpu")) == torch.float32
    assert resolve_dtype(_options(dtype="bfloat16"), torch.device("cpu")) == torch.bfloat16


@pytest.mark.parametrize(
    "config, message",
    [
        (
            {"model_type": "blip-2", "architectures": ["Blip2ForConditionalGeneration"]},
            r"is a Blip2ForConditionalGeneration checkpoint \(model_type='blip-2'\), not an InstructBLIP",
        ),
        ({"model_type": "llama"}, r"is a checkpoint \(model_type='llama'\), not an InstructBLIP generation model"),
        (_config(architectures=["InstructBlipForQuestionAnswering"]), "not InstructBlipForConditionalGeneration"),
        (_config(vision_config={"image_size": 364}), r"trained at 364 px but backend.image_size=224"),
    ],
)
def test_checkpoint_checks_name_the_checkpoint(config, message):
    with pytest.raises(BadInputError, match=message) as info:
        check_checkpoint(_options(model="/ckpt/x"), config)
    assert "/ckpt/x" in str(info.value)


def test_a_matching_checkpoint_passes():
    check_checkpoint(_options(), _config())
    check_checkpoint(_options(), {"model_type": "instructblip"})  # no architectures, default 224


def test_identity_holds_what_decides_outputs_including_the_qformer_tokenizer(tmp_path: Path):
    folder = tmp_path / "ckpt"
    (folder / "qformer_tokenizer").mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(_config(vision_config={"image_size": 32})))
    (folder / "qformer_tokenizer" / "tokenizer.json").write_text("{}")
    options = _options(model=str(folder), image_size=32, family="opt")
    first = HfInstructBlipBackend.identity(options)
    assert first["architecture"] == ARCHITECTURE and first["family"] == "opt" and first["prompt_family"] == "t5"
    assert first["qformer_max_length"] == 128 and first["image_size"] == 32
    assert set(first["qformer_tokenizer"]) == {"tokenizer.json"}
    (folder / "qformer_tokenizer" / "tokenizer.json").write_text('{"changed": 1}')
    assert HfInstructBlipBackend.identity(options) != first  # a new Q-Former vocabulary is new outputs
    assert HfInstructBlipBackend.identity(_options())["weights"] == {
        "hub": "Salesforce/instructblip-flan-t5-xl",
        "revision": None,
    }


def test_preflight_checks_a_local_folder_before_any_weights(tmp_path: Path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    with pytest.raises(BadInputError, match=f"in local folder {folder}"):
        HfInstructBlipBackend.preflight(_options(model=str(folder)))
    (folder / "config.json").write_text(json.dumps(_config(vision_config={"image_size": 32})))
    with pytest.raises(BadInputError, match="trained at 32 px"):
        HfInstructBlipBackend.preflight(_options(model=str(folder)))
    HfInstructBlipBackend.preflight(_options(model=str(folder), image_size=32))


# --- configs -------------------------------------------------------------------------------
def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=False)


def test_the_registry_finds_the_backend_by_its_file_name():
    assert load_backend_class("hf_instructblip") is HfInstructBlipBackend


@pytest.mark.parametrize("name", PUBLIC + TINY)
def test_every_instructblip_config_validates_against_the_backend_schema(name):
    _, options, backend_class, _ = split_run_config(_compose([f"backend={name}"]))
    assert backend_class is HfInstructBlipBackend and options.name == name
    assert options.family == ("t5" if "t5" in name else "opt")  # Vicuna is decoder-only
    assert options.prompt_family == "t5" and options.qformer_max_length == 128 and options.dtype == "auto"
    assert options.quantization == "none"
    if name in PUBLIC:
        assert options.model == f"Salesforce/{name}" and options.image_size == 224 and options.batch_size == 16
    else:
        assert options.image_size == 32 and options.model == f".cache/demo/{name}"


def test_misspelled_instructblip_keys_get_did_you_mean():
    with pytest.raises(BadInputError, match="unknown key 'prompt_famly'; did you mean 'prompt_family'"):
        check_override_keys(["backend=instructblip-flan-t5-xl", "backend.prompt_famly=t5"])
    check_override_keys(["backend=instructblip-vicuna-7b", "backend.qformer_max_length=64"])


def test_quantization_is_checked_before_loading_and_keys_the_outputs(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BadInputError, match="backend.quantization=8bit needs a CUDA device"):
        HfInstructBlipBackend.preflight(_options(quantization="8bit"))
    assert "quantization" not in HfInstructBlipBackend.identity(_options())
    assert HfInstructBlipBackend.identity(_options(quantization="4bit"))["quantization"] == "4bit"
