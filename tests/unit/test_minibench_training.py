"""Minibench training: the harness's prompts, token layouts, forward passes equal to HF's, reproducible steps."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml

from blip2_bench.demo.tiny_models import IMAGE_TOKEN
from blip2_bench.minibench import train as mtrain
from blip2_bench.minibench.batches import CAPTION_PROMPT, COLLATE, IGNORE, VQA_PROMPTS, Example
from blip2_bench.minibench.build import training_scenes
from blip2_bench.minibench.forward import generator_logits, image_features, itm_logits, text_features
from blip2_bench.minibench.losses import itc_similarity
from blip2_bench.minibench.models import SPECS, Spec, build
from blip2_bench.minibench.tokenizers import opt_tokenizer, t5_tokenizer

# Narrow copies of the shipped architectures keep these tests fast.
TINY = {name: replace(spec, num_query_tokens=4) for name, spec in SPECS.items()}


REPO = Path(__file__).resolve().parents[2]


def test_training_prompts_are_the_harness_prompts() -> None:
    from blip2_bench.task_api.short_answer import PROMPTS

    assert VQA_PROMPTS == PROMPTS  # what tasks/vqav2.py prompts with
    for task in ("coco_caption", "nocaps"):
        assert yaml.safe_load((REPO / "conf" / "task" / f"{task}.yaml").read_text())["prompt"] == CAPTION_PROMPT


@pytest.mark.parametrize("make", [opt_tokenizer, t5_tokenizer])
def test_tokenizers_keep_image_special_and_words_whole(make) -> None:
    tok = make()
    image_id = tok.convert_tokens_to_ids(IMAGE_TOKEN)
    assert image_id == len(tok) - 1 and tok.added_tokens_decoder[image_id].special
    ids = tok("two small red circles on the left", add_special_tokens=False).input_ids
    assert len(ids) == 7 and tok.unk_token_id not in ids
    assert tok.decode(ids) == "two small red circles on the left"


def test_opt_tokenizer_has_the_newline_stop_token_and_bos() -> None:
    tok = opt_tokenizer()
    assert len(tok("\n", add_special_tokens=False).input_ids) == 1  # backends/hf_blip2.py requires it
    assert tok("a photo of").input_ids[0] == tok.convert_tokens_to_ids("</s>")


def test_collate_layouts() -> None:
    examples = [Example(0, "Question: how many circles are there? Answer:", "2"), Example(1, "a photo of", "a b")]
    opt = opt_tokenizer()
    image_id = opt.convert_tokens_to_ids(IMAGE_TOKEN)
    b = COLLATE["opt"](examples, opt, 4, image_id)
    row = b["input_ids"][0].tolist()
    assert row[:4] == [image_id] * 4 and row[4] == opt.convert_tokens_to_ids("</s>")
    labelled = [t for t in b["labels"][0].tolist() if t != IGNORE]
    assert opt.convert_ids_to_tokens(labelled) == ["2", "\n"]
    t5 = t5_tokenizer()
    b = COLLATE["t5"](examples, t5, 4, t5.convert_tokens_to_ids(IMAGE_TOKEN))
    assert t5.convert_ids_to_tokens([t for t in b["labels"][0].tolist() if t != IGNORE]) == ["2", "</s>"]
    assert b["input_ids"][0].tolist()[-1] != t5.pad_token_id or b["attention_mask"][0].tolist()[-1] == 0


def _pixels(n: int, spec: Spec) -> torch.Tensor:
    return mtrain.pixel_values(training_scenes(n)[:n], spec.image_size)


def test_generator_forward_equals_hf_forward() -> None:
    spec = TINY["mini-opt"]
    model, processor = build(spec, seed=0)
    model.eval()
    examples = [Example(0, "Question: what color is the circle? Answer:", "red"), Example(1, "a photo of", "x")]
    batch = COLLATE["opt"](examples, processor.tokenizer, spec.num_query_tokens, model.config.image_token_id)
    pixels = _pixels(2, spec)
    with torch.no_grad():
        ours = generator_logits(model, pixels, batch, "opt")
        theirs = model(pixel_values=pixels, input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.allclose(ours, theirs[:, -ours.shape[1] :], atol=1e-5)


def test_retrieval_forward_equals_hf_forward() -> None:
    spec = TINY["mini-itm"]
    model, processor = build(spec, seed=0)
    model.eval()
    pixels = _pixels(2, spec)
    tokens = processor.tokenizer(["a red circle on the left", "two blue squares"], padding=True, return_tensors="pt")
    with torch.no_grad():
        img, vision = image_features(model, pixels)
        txt = text_features(model, tokens["input_ids"], tokens["attention_mask"])
        hf_itc = model(pixel_values=pixels, input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
        ours_itm = itm_logits(model, vision, tokens["input_ids"], tokens["attention_mask"])
        hf_itm = model(
            pixel_values=pixels,
            input_ids=tokens["input_ids"],
            attention_mask=tokens["attention_mask"],
            use_image_text_matching_head=True,
        )
    assert torch.allclose(itc_similarity(img, txt), hf_itc.logits_per_image, atol=1e-5)
    assert torch.allclose(ours_itm, hf_itm.logits_per_image, atol=1e-5)


def _train(name: str, steps: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, dict]:
    monkeypatch.setitem(mtrain.SPECS, name, TINY[name])
    scenes = training_scenes(16)
    pixels = mtrain.pixel_values(scenes, TINY[name].image_size)
    cfg = mtrain.TrainConfig(steps=steps, batch_images=4, warmup=2, lr=3e-3)
    record = mtrain.train_one(name, tmp_path / name, cfg, scenes, pixels)
    from safetensors.torch import load_file

    return record, load_file(str(tmp_path / name / "model.safetensors"))


@pytest.mark.parametrize("name", ["mini-opt", "mini-t5", "mini-itm"])
def test_training_steps_are_bit_reproducible_and_learn(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, weights_a = _train(name, 12, tmp_path / "a", monkeypatch)
    b, weights_b = _train(name, 12, tmp_path / "b", monkeypatch)
    assert a["final_loss"] == b["final_loss"]
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    assert a["final_loss"] < a["first_loss"]  # it learns something even in 12 steps
    random_model, _ = build(TINY[name], seed=0)
    trained = {k: v for k, v in weights_a.items() if k in random_model.state_dict()}
    assert any(not torch.equal(v, random_model.state_dict()[k]) for k, v in trained.items())
    assert random.Random(0).random() == random.Random(0).random()  # the global RNGs are not what we seed
