"""The InstructBLIP backend on tiny real InstructBLIP models (Vicuna- and Flan-T5-style): answers equal
a plain transformers loop, the instruction reaches the Q-Former, bad checkpoints are refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from transformers import AutoImageProcessor, InstructBlipForConditionalGeneration, InstructBlipProcessor

from blip2_bench.backends.hf_instructblip import HfInstructBlipBackend, HfInstructBlipOptions
from blip2_bench.demo.tiny_instructblip import build_tiny_instructblip
from blip2_bench.errors import BadInputError
from blip2_bench.runner.plan import plan_batches
from blip2_bench.types import GenerationRequest, GenerationSettings, ImageSource

pytestmark = pytest.mark.slow

FAMILY = {"vicuna": "opt", "t5": "t5"}  # tiny model's LLM -> backend.family
PROMPTS = [
    "Question: what color is the bus? Short answer:",
    "Question: how many people are in the picture? Short answer:",
    "A short image caption.",
]
# The tasks' defaults (vqav2; coco_caption/nocaps) and the captioning settings of LAVIS's InstructBLIP
# configs (5 beams, 10..80 tokens; generate()'s default repetition penalty 1.5), shortened to 20.
VQA = GenerationSettings(num_beams=5, max_new_tokens=10, min_new_tokens=1, length_penalty=-1.0)
CAPTION = GenerationSettings(num_beams=5, max_new_tokens=30, min_new_tokens=8, length_penalty=1.0)
LAVIS_CAPTION = GenerationSettings(5, 20, 10, length_penalty=1.0, repetition_penalty=1.5)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("instructblip")
    return {family: build_tiny_instructblip(root / family, family) for family in FAMILY}


def _backend(folder: Path, family: str, **kw) -> HfInstructBlipBackend:
    options = HfInstructBlipOptions(name="t", model=str(folder), family=FAMILY[family], image_size=32, **kw)
    return HfInstructBlipBackend(options)


def _images() -> dict[str, Image.Image]:
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 255, (37, 45, 3), dtype=np.uint8))
    return {"noise": noise, "flat": Image.new("RGB", (40, 30), (200, 40, 90))}


def _requests(images: dict[str, Image.Image], settings: GenerationSettings) -> list[GenerationRequest]:
    return [
        GenerationRequest(f"{key}-{q}", ImageSource(key, path="unused"), prompt, settings)
        for key in images
        for q, prompt in enumerate(PROMPTS)
    ]


def _batched(backend: HfInstructBlipBackend, requests, images, batch_size: int) -> list[str]:
    """As the runner calls it: the batch plan, one generate() per batch."""
    out: dict[int, str] = {}
    for batch in plan_batches(requests, batch_size):
        for i, text in zip(batch, backend.generate([requests[i] for i in batch], images), strict=True):
            out[i] = text
    return [out[i] for i in range(len(requests))]


def _plain(folder: Path, family: str, requests, images, *, from_embeddings: bool = False) -> list[str]:
    """The transformers way, one sample at a time: processor, then model.generate with the same settings."""
    model = InstructBlipForConditionalGeneration.from_pretrained(folder).eval()
    processor = InstructBlipProcessor.from_pretrained(folder)
    # The backend pins PIL resizing (LAVIS's); where torchvision imports, HF would pick tensors.
    processor.image_processor = AutoImageProcessor.from_pretrained(folder, backend="pil")
    texts = []
    for r in requests:
        inputs = processor(images=images[r.image.key], text=r.prompt, return_tensors="pt")
        s = r.settings
        kwargs = dict(
            do_sample=False,
            num_beams=s.num_beams,
            max_new_tokens=s.max_new_tokens,
            min_new_tokens=s.min_new_tokens,
            length_penalty=s.length_penalty,
            repetition_penalty=s.repetition_penalty,
        )
        with torch.no_grad():
            if from_embeddings:  # as LAVIS: the LLM sees embeddings only, so penalties see new tokens only
                embeds = model.get_input_embeddings()(inputs.pop("input_ids"))
                out = model.generate(**inputs, inputs_embeds=embeds, **kwargs)
            else:
                out = model.generate(**inputs, **kwargs)
        if family == "vicuna" and not from_embeddings:
            out = out[:, inputs["input_ids"].shape[1] :]  # decoder-only: the prompt comes back too
        texts.append(processor.tokenizer.decode(out[0], skip_special_tokens=True).strip())
    return texts


@pytest.mark.parametrize("family", list(FAMILY))
@pytest.mark.parametrize("settings", [VQA, CAPTION], ids=["vqa", "caption"])
def test_answers_equal_a_plain_transformers_loop(models, family, settings):
    images = _images()
    requests = _requests(images, settings)
    backend = _backend(models[family], family)
    answers = _batched(backend, requests, images, batch_size=4)
    assert answers == _plain(models[family], family, requests, images)
    # Not a constant model (an equality with the plain loop would then prove nothing); random tiny
    # weights may still give two requests one answer, so all-distinct would be flaky.
    assert len(set(answers)) > len(answers) // 2


@pytest.mark.filterwarnings("ignore:Passing `repetition_penalty` with `inputs_embeds`")  # the plain loop's
@pytest.mark.parametrize("family", list(FAMILY))
def test_with_a_repetition_penalty_only_generated_tokens_are_penalised_as_in_lavis(models, family):
    """LAVIS generates from embeddings, so a penalty (its generate() default 1.5) sees the new tokens
    only; transformers' model.generate also passes the prompt's ids for decoder-only LLMs (and warns)."""
    images = _images()
    requests = _requests(images, LAVIS_CAPTION)
    answers = _batched(_backend(models[family], family), requests, images, batch_size=4)
    # An encoder-decoder penalises decoder tokens only either way: the plain call is LAVIS's already.
    assert answers == _plain(models[family], family, requests, images, from_embeddings=family == "vicuna")


@pytest.mark.parametrize("family", list(FAMILY))
def test_the_instruction_goes_to_the_qformer_and_each_image_is_encoded_once(models, family):
    backend = _backend(models[family], family)
    images = _images()
    requests = _requests(images, VQA)  # two images, three instructions each
    encoded, qformer_ids = [], []
    real_encode, real_qformer = backend.encode_images, backend.model.qformer.forward
    backend.encode_images = lambda imgs: encoded.append(len(imgs)) or real_encode(imgs)  # type: ignore[method-assign]

    def spy(*args, **kwargs):
        qformer_ids.append(kwargs["input_ids"])
        return real_qformer(*args, **kwargs)

    backend.model.qformer.forward = spy
    backend.generate(requests, images)
    assert encoded == [2]  # the ViT once per distinct image; the Q-Former once per request
    expected = backend.qformer_tokenizer([r.prompt for r in requests], padding=True, return_tensors="pt").input_ids
    assert len(qformer_ids) == 1 and torch.equal(qformer_ids[0].cpu(), expected)
    # Same image, other instruction: other query features (BLIP-2's would be equal).
    embeds = real_encode([images["flat"]]).expand(2, -1, -1)
    features = backend.instruction_features(embeds, PROMPTS[:2])
    assert not torch.allclose(features[0], features[1])


def test_an_overlong_instruction_keeps_its_end_as_lavis_does(models):
    backend = _backend(models["t5"], "t5", qformer_max_length=8)
    seen = []
    real = backend.model.qformer.forward
    backend.model.qformer.forward = lambda *a, **k: seen.append(k["input_ids"]) or real(*a, **k)
    images = {"flat": _images()["flat"]}
    prompt = "Question: how many people are in the picture on the left? Short answer:"
    backend.generate([GenerationRequest("a", ImageSource("flat", path="x"), prompt, VQA)], images)
    tok = backend.qformer_tokenizer
    full = tok(prompt).input_ids
    assert seen[0].shape[1] == 8 and seen[0][0].tolist() == [full[0], *full[-7:]]  # [CLS] + the last tokens
    assert backend.provenance()["qformer_instruction"]["max_length"] == 8


@pytest.mark.parametrize("family, dtype", [("vicuna", "float16"), ("t5", "bfloat16")])
def test_reduced_precision_runs_on_cpu_and_is_recorded(models, family, dtype):
    backend = _backend(models[family], family, dtype=dtype)
    images = _images()
    out = backend.generate(_requests(images, VQA)[:3], images)
    assert len(out) == 3 and all(isinstance(t, str) for t in out)
    record = backend.provenance()
    assert record["dtype"] == dtype and record["component_dtypes"]["language_model"] == dtype
    # transformers keeps the query tokens in fp32 when it loads fp16
    assert record["component_dtypes"]["query_tokens"] == ("float32" if dtype == "float16" else dtype)


def test_provenance_records_protocol_and_checkpoint(models):
    record = _backend(models["vicuna"], "vicuna").provenance()
    assert record["impl"] == "hf_instructblip" and record["architecture"] == "InstructBlipForConditionalGeneration"
    assert (record["family"], record["llm_family"], record["language_model"]) == ("t5", "opt", "LlamaForCausalLM")
    assert record["stop"].startswith("eos token '</s>'") and record["num_query_tokens"] == 4
    assert "the same text the LLM gets" in record["qformer_instruction"]["text"]
    assert record["qformer_instruction"]["truncation_side"] == "left"
    assert set(record["qformer_instruction"]["tokenizer_files"]) == {"tokenizer.json", "tokenizer_config.json"}
    assert record["weights"]["model.safetensors"].startswith("sha256:")
    assert record["image_processing"]["size"] == {"height": 32, "width": 32}


# --- bad checkpoints ------------------------------------------------------------------------
def test_a_blip2_folder_is_refused_naming_the_folder(tiny_models):
    folder = tiny_models["t5"]
    with pytest.raises(BadInputError, match=f"{folder} is a Blip2ForConditionalGeneration checkpoint"):
        HfInstructBlipBackend(HfInstructBlipOptions(name="t", model=str(folder), family="t5", image_size=32))


def test_the_blip2_backend_refuses_an_instructblip_folder(models):
    from blip2_bench.backends._hf import HfBlip2Options
    from blip2_bench.backends.hf_blip2 import HfBlip2Backend

    options = HfBlip2Options(name="t", model=str(models["t5"]), family="t5", image_size=32)
    with pytest.raises(BadInputError, match=f"{models['t5']} is not a BLIP-2 checkpoint"):
        HfBlip2Backend.preflight(options)


def test_an_image_size_mismatch_is_refused_before_weights_load(models, monkeypatch):
    def no_loading(*args, **kwargs):
        raise AssertionError("weights were loaded")

    monkeypatch.setattr(InstructBlipForConditionalGeneration, "from_pretrained", no_loading)
    options = HfInstructBlipOptions(name="t", model=str(models["t5"]), family="t5", image_size=224)
    with pytest.raises(BadInputError, match=r"was trained at 32 px but backend.image_size=224"):
        HfInstructBlipBackend(options)


def test_a_family_that_does_not_match_the_llm_is_refused(models):
    with pytest.raises(BadInputError, match="family='t5' but .* has a decoder-only language model"):
        HfInstructBlipBackend(HfInstructBlipOptions(name="t", model=str(models["vicuna"]), family="t5", image_size=32))


def test_partial_weights_are_refused_unless_asked_for(models, tmp_path):
    folder = tmp_path / "partial"
    shutil.copytree(models["t5"], folder)
    tensors = load_file(folder / "model.safetensors")
    dropped = sorted(k for k in tensors if k.startswith("qformer."))[:2]
    for key in dropped:
        del tensors[key]
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(BadInputError, match=f"checkpoint {folder} is incomplete: missing 2 weights") as info:
        _backend(folder, "t5")
    assert dropped[0] in str(info.value) and "allow_partial_weights=true" in str(info.value)
    assert _backend(folder, "t5", allow_partial_weights=True).generate(
        _requests({"flat": _images()["flat"]}, VQA)[:1], {"flat": _images()["flat"]}
    )


def test_a_missing_qformer_tokenizer_is_refused_not_replaced_by_the_llm_tokenizer(models, tmp_path):
    # transformers' processor would fall back to the LLM tokenizer with a warning.
    folder = tmp_path / "no_qformer_tokenizer"
    shutil.copytree(models["t5"], folder)
    shutil.rmtree(folder / "qformer_tokenizer")
    with pytest.raises(BadInputError, match=r"cannot load the Q-Former tokenizer \(qformer_tokenizer/\)"):
        _backend(folder, "t5")


@pytest.mark.gpu
@pytest.mark.parametrize("family", list(FAMILY))
def test_on_cuda_lavis_precision_runs_and_is_recorded(models, family):
    backend = HfInstructBlipBackend(
        HfInstructBlipOptions(name="t", model=str(models[family]), family=FAMILY[family], device="cuda", image_size=32)
    )
    record = backend.provenance()
    assert record["device"].startswith("cuda")
    assert record["component_dtypes"]["language_model"] == ("float16" if family == "vicuna" else "bfloat16")
    images = _images()
    out = backend.generate(_requests(images, VQA), images)
    assert len(out) == 6 and all(isinstance(t, str) for t in out)
