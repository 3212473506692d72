"""Tests for the offline demo material: tiny BLIP-2 checkpoints and the VQAv2 fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import Blip2ForConditionalGeneration, Blip2Processor

from blip2_bench.demo.tiny_models import FAMILIES, build_tiny_blip2
from blip2_bench.demo.vqav2_fixture import VqaFixture, write_vqav2_fixture, write_vqav2_parquet

PROMPTS = ["Question: what color is the bus? Answer:", "a photo of"]  # different lengths


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny_blip2")
    return {family: build_tiny_blip2(root / family, family, seed=0) for family in FAMILIES}


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> VqaFixture:
    return write_vqav2_fixture(tmp_path_factory.mktemp("vqav2"), n_images=4, questions_per_image=3)


def _load(path: Path, **kwargs) -> tuple[Blip2ForConditionalGeneration, Blip2Processor]:
    model = Blip2ForConditionalGeneration.from_pretrained(path, local_files_only=True, **kwargs)
    processor = Blip2Processor.from_pretrained(path, local_files_only=True)
    return model.eval(), processor


def _images(fx: VqaFixture, n: int) -> list[Image.Image]:
    return [Image.open(p) for p in sorted(fx.image_dir.iterdir())[:n]]


# ---------------------------------------------------------------- tiny models


@pytest.mark.parametrize("family", FAMILIES)
def test_model_loads_with_consistent_image_token(model_dirs: dict[str, Path], family: str) -> None:
    model, processor = _load(model_dirs[family])
    tok = processor.tokenizer
    image_ids = tok("<image>", add_special_tokens=False).input_ids
    assert len(image_ids) == 1
    assert image_ids[0] == model.config.image_token_id == model.config.image_token_index
    assert tok("<image><image><image>", add_special_tokens=False).input_ids == image_ids * 3
    assert processor.num_query_tokens == model.config.num_query_tokens == 4
    assert model.config.text_config.model_type == family
    assert model.config.text_config.vocab_size == len(tok)
    assert type(processor.image_processor).__name__ in ("BlipImageProcessor", "BlipImageProcessorPil")
    assert processor.image_processor.size == {"height": 32, "width": 32}
    assert sum(f.stat().st_size for f in model_dirs[family].iterdir()) < 1_000_000


def test_opt_tokenizer_follows_opt_conventions(model_dirs: dict[str, Path]) -> None:
    model, processor = _load(model_dirs["opt"])
    tok = processor.tokenizer
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (2, 2, 1)
    assert tok.padding_side == "left"
    assert len(tok("\n", add_special_tokens=False).input_ids) == 1
    ids = tok("Question: what is it?\nAnswer:  two spaces").input_ids
    assert ids[0] == 2 and ids[-1] != 2  # </s> prepended as BOS, nothing appended
    assert tok.decode(ids, skip_special_tokens=True) == "Question: what is it?\nAnswer:  two spaces"
    odd = "naïve café — 10°C"  # byte-level BPE: nothing is <unk> or dropped
    assert tok.decode(tok(odd, add_special_tokens=False).input_ids) == odd
    gen = model.generation_config
    assert (gen.bos_token_id, gen.eos_token_id, gen.pad_token_id) == (2, 2, 1)


def test_t5_tokenizer_follows_t5_conventions(model_dirs: dict[str, Path]) -> None:
    model, processor = _load(model_dirs["t5"])
    tok = processor.tokenizer
    assert (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2)
    ids = tok("Question: what is it? Short answer:").input_ids
    assert ids[-1] == 1 and ids[0] not in (0, 1)  # </s> appended, no BOS
    assert tok.decode(ids, skip_special_tokens=True) == "Question: what is it? Short answer:"
    assert model.config.text_config.decoder_start_token_id == 0
    assert model.generation_config.decoder_start_token_id == 0


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_backend_asks_for_new_tokens_and_decodes_only_them(model_dirs: dict[str, Path], fixture: VqaFixture, family):
    """Our backend, not transformers: it passes max/min_new_tokens (never max_length, which counts
    the prompt and queries), and what it decodes is exactly the generated continuation."""
    from blip2_bench.backends._hf import HfBlip2Options
    from blip2_bench.backends.hf_blip2 import HfBlip2Backend
    from blip2_bench.types import GenerationRequest, GenerationSettings, ImageSource

    backend = HfBlip2Backend(HfBlip2Options(name="t", model=str(model_dirs[family]), family=family, image_size=32))
    seen: list[tuple[dict, torch.Tensor]] = []
    real = backend.model.language_model.generate

    def spy(**kwargs):
        out = real(**kwargs)
        seen.append((kwargs, out))
        return out

    backend.model.language_model.generate = spy
    settings = GenerationSettings(num_beams=5, max_new_tokens=6, min_new_tokens=3)
    images = {"i": _images(fixture, 1)[0]}
    requests = [
        GenerationRequest(str(k), ImageSource("i", path="x"), prompt, settings) for k, prompt in enumerate(PROMPTS)
    ]
    texts = backend.generate(requests, images)
    ((kwargs, out),) = seen
    assert kwargs["max_new_tokens"] == 6 and kwargs["min_new_tokens"] == 3
    assert "max_length" not in kwargs and "min_length" not in kwargs
    new = out if family == "opt" else out[:, 1:]  # from embeddings: no prompt in the output
    assert new.shape[1] <= 6
    decoded = [t.strip() for t in backend.tokenizer.batch_decode(new, skip_special_tokens=True)]
    assert texts == decoded and not any(t.startswith(PROMPTS[0]) for t in texts)


def test_same_seed_gives_same_weights(model_dirs: dict[str, Path], tmp_path: Path) -> None:
    again = load_file(build_tiny_blip2(tmp_path / "a", "opt", seed=0) / "model.safetensors")
    other = load_file(build_tiny_blip2(tmp_path / "b", "opt", seed=1) / "model.safetensors")
    first = load_file(model_dirs["opt"] / "model.safetensors")
    assert first.keys() == again.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)
    tok_json = (model_dirs["opt"] / "tokenizer.json").read_bytes()
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == tok_json


def test_unknown_family_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="family"):
        build_tiny_blip2(tmp_path, "llama")


# ---------------------------------------------------------------- VQAv2 fixture


def test_fixture_json_uses_official_keys(fixture: VqaFixture) -> None:
    questions = json.loads(fixture.questions_file.read_text())
    assert fixture.questions_file.name == "v2_OpenEnded_mscoco_val2014_questions.json"
    assert set(questions) == {"info", "task_type", "data_type", "license", "data_subtype", "questions"}
    assert (questions["task_type"], questions["data_type"], questions["data_subtype"]) == (
        "Open-Ended",
        "mscoco",
        "val2014",
    )
    assert all(set(q) == {"image_id", "question", "question_id"} for q in questions["questions"])
    assert fixture.annotations_file is not None
    assert fixture.annotations_file.name == "v2_mscoco_val2014_annotations.json"
    annotations = json.loads(fixture.annotations_file.read_text())
    assert set(annotations) == {"info", "license", "data_subtype", "annotations", "data_type"}
    keys = {"question_type", "multiple_choice_answer", "answers", "image_id", "answer_type", "question_id"}
    for ann in annotations["annotations"]:
        assert set(ann) == keys
        assert [a["answer_id"] for a in ann["answers"]] == list(range(1, 11))
        assert all(set(a) == {"answer", "answer_confidence", "answer_id"} for a in ann["answers"])
        assert {a["answer_confidence"] for a in ann["answers"]} <= {"yes", "maybe", "no"}
    assert {a["answer_type"] for a in annotations["annotations"]} == {"yes/no", "number", "other"}
    raw = [a["answer"] for ann in annotations["annotations"] for a in ann["answers"]]
    assert any(r != r.lower() for r in raw)  # messy case survives for the normaliser


def test_question_ids_follow_image_id_rule(fixture: VqaFixture) -> None:
    questions = json.loads(fixture.questions_file.read_text())["questions"]
    assert len(questions) == 12
    assert tuple(q["question_id"] for q in questions) == fixture.question_ids
    per_image: dict[int, list[int]] = {}
    for q in questions:
        assert 100_000 <= q["image_id"] < 1_000_000
        per_image.setdefault(q["image_id"], []).append(q["question_id"] - q["image_id"] * 1000)
    assert all(ks == [0, 1, 2] for ks in per_image.values())
    assert len(set(fixture.question_ids)) == 12
    text = " ".join(q["question"] for q in questions)
    # Messy text for the LAVIS-style question preprocessing to clean up.
    assert all(c in text for c in '?"()') and text != text.lower() and "  " in text


def test_images_cover_real_coco_quirks(fixture: VqaFixture) -> None:
    files = sorted(fixture.image_dir.iterdir())
    assert len(files) == 4
    seen = set()
    for path in files:
        assert path.suffix == ".jpg" and path.name.startswith("COCO_val2014_")
        with Image.open(path) as img:
            seen.add((img.format, img.mode))
    assert seen == {("JPEG", "RGB"), ("JPEG", "L"), ("JPEG", "CMYK"), ("PNG", "RGB")}
    image_ids = {q // 1000 for q in fixture.question_ids}
    assert {fixture.image_path(i) for i in image_ids} == set(files)


def test_fixture_is_deterministic(fixture: VqaFixture, tmp_path: Path) -> None:
    again = write_vqav2_fixture(tmp_path / "a")
    other = write_vqav2_fixture(tmp_path / "b", seed=1)
    assert again.questions_file.read_text() == fixture.questions_file.read_text()
    assert again.question_ids == fixture.question_ids != other.question_ids


def test_test_dev_subtype_has_no_annotations(tmp_path: Path) -> None:
    fx = write_vqav2_fixture(tmp_path, n_images=2, subtype="test-dev2015")
    assert fx.annotations_file is None
    assert fx.image_dir.name == "test2015"
    assert json.loads(fx.questions_file.read_text())["data_subtype"] == "test-dev2015"
    assert not list(tmp_path.glob("*annotations*"))
    with pytest.raises(ValueError):
        write_vqav2_parquet(fx, tmp_path / "x.parquet")


def test_parquet_matches_lmms_lab_schema(fixture: VqaFixture, tmp_path: Path) -> None:
    import datasets

    path = write_vqav2_parquet(fixture, tmp_path / "validation.parquet")
    ds = datasets.load_dataset("parquet", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    assert ds.column_names == [
        "question_type",
        "multiple_choice_answer",
        "answers",
        "image_id",
        "answer_type",
        "question_id",
        "question",
        "image",
    ]
    assert isinstance(ds.features["image"], datasets.Image)
    assert ds.features["question_id"] == datasets.Value("int64")
    assert tuple(ds["question_id"]) == fixture.question_ids
    row = ds[0]
    assert isinstance(row["image"], Image.Image)
    assert set(row["answers"][0]) == {"answer", "answer_confidence", "answer_id"}
    assert {img.mode for img in ds["image"]} == {"RGB", "L", "CMYK"}
