"""The HF backend in reduced precision (the GPU defaults) runs on CPU too and records what ran."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from blip2_bench.backends._hf import HfBlip2Options as BackendConfig
from blip2_bench.backends.hf_blip2 import HfBlip2Backend, resolve_dtype
from blip2_bench.types import GenerationRequest, GenerationSettings, ImageSource

pytestmark = pytest.mark.slow


def _backend(model, family: str, dtype: str) -> HfBlip2Backend:
    return HfBlip2Backend(BackendConfig(name="t", model=str(model), family=family, dtype=dtype, image_size=32))


def _requests(n_images: int, per_image: int) -> tuple[list[GenerationRequest], dict[str, Image.Image]]:
    settings = GenerationSettings(num_beams=3, max_new_tokens=4, min_new_tokens=2, length_penalty=-1.0)
    images = {f"i{k}": Image.new("RGB", (40 + k, 30), color=(40 * k, 90, 200 - 30 * k)) for k in range(n_images)}
    requests = [
        GenerationRequest(
            f"{k}-{q}", ImageSource(f"i{k}", path="unused"), f"Question: q{q}{' x' * q} Answer:", settings
        )
        for k in range(n_images)
        for q in range(per_image)
    ]
    return requests, images


def test_auto_dtype_follows_the_paper_on_gpu_and_fp32_on_cpu():
    cfg = BackendConfig(name="t", model="m", family="t5")
    assert resolve_dtype(cfg, torch.device("cuda")) == torch.bfloat16
    assert resolve_dtype(BackendConfig(name="t", model="m", family="opt"), torch.device("cuda")) == torch.float16
    assert resolve_dtype(cfg, torch.device("cpu")) == torch.float32


@pytest.mark.parametrize("family, dtype", [("opt", "float16"), ("t5", "bfloat16"), ("opt", "float32")])
def test_reduced_precision_generation_runs_and_is_recorded(tiny_models, family, dtype):
    backend = _backend(tiny_models[family], family, dtype)
    requests, images = _requests(2, 2)
    outputs = backend.generate(requests, images)
    assert len(outputs) == 4 and all(isinstance(o, str) for o in outputs)
    prov = backend.provenance()
    assert prov["dtype"] == dtype and prov["component_dtypes"]["language_model"] == dtype


def test_each_image_is_encoded_once_and_results_match_per_request_generation(tiny_models):
    backend = _backend(tiny_models["opt"], "opt", "float32")
    requests, images = _requests(2, 3)
    encoded: list[int] = []
    real = backend.encode_images
    backend.encode_images = lambda imgs: encoded.append(len(imgs)) or real(imgs)  # type: ignore[method-assign]
    batched = backend.generate(requests, images)
    assert encoded == [2]  # 6 requests, 2 distinct images
    # Features reused across questions give the same text as encoding each request's image itself.
    for request, text in zip(requests, batched, strict=True):
        features = real([images[request.image.key]])
        prompts = [r.prompt for r in requests]  # same batch layout (padding) as the batched call
        index = prompts.index(request.prompt)
        assert (
            backend.generate_from_features(features.expand(len(prompts), -1, -1), prompts, request.settings)[index]
            == text
        )


@pytest.mark.parametrize("family", ["opt", "t5"])
def test_an_image_spanning_batches_is_encoded_once_with_the_answers_of_a_fresh_backend(tiny_models, family):
    """The plan gives an image with more questions than a batch batches of its own; the backend
    reuses its features across them, and a fresh backend per batch (a resumed run) answers the same."""
    from blip2_bench.runner.plan import plan_batches

    requests, images = _requests(3, 5)
    requests = requests[:5] + requests[5:7] + requests[10:15]  # i0: 5 questions, i1: 2, i2: 5
    plan = plan_batches(requests, 2)
    assert [sorted({requests[i].image.key for i in b}) for b in plan] == [["i0"]] * 3 + [["i1"]] + [["i2"]] * 3
    backend = _backend(tiny_models[family], family, "float32")
    encoded: list[int] = []
    real = backend.encode_images
    backend.encode_images = lambda imgs: encoded.append(len(imgs)) or real(imgs)  # type: ignore[method-assign]
    reused = [backend.generate([requests[i] for i in b], images) for b in plan]
    assert encoded == [1, 1, 1]  # one encoding per image, not one per batch
    fresh = [_backend(tiny_models[family], family, "float32").generate([requests[i] for i in b], images) for b in plan]
    assert reused == fresh


@pytest.mark.gpu
@pytest.mark.parametrize("family", ["opt", "t5"])
def test_on_cuda_the_paper_precision_runs_and_answers_like_fp32(tiny_models, family):
    """On a GPU, dtype=auto is the paper's precision (OPT fp16, Flan-T5 bf16), the record says what
    ran, and every request gets a text (reduced precision may change tokens, so texts are not
    compared with fp32)."""
    cuda = HfBlip2Backend(
        BackendConfig(name="t", model=str(tiny_models[family]), family=family, device="cuda", image_size=32)
    )
    record = cuda.provenance()
    assert record["device"].startswith("cuda")
    assert record["component_dtypes"]["language_model"] == ("float16" if family == "opt" else "bfloat16")
    requests, images = _requests(2, 3)
    out = cuda.generate(requests, images)
    assert len(out) == len(requests) and all(isinstance(t, str) for t in out)
