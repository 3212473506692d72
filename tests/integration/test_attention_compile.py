"""backend.attention and backend.compile: validated, recorded as what really ran, and the same
answers as the default kernels on tiny OPT and T5 models (and tiny ITM features)."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from blip2_bench.backends._hf import HfBlip2Options, hf_identity
from blip2_bench.backends.hf_blip2 import HfBlip2Backend
from blip2_bench.backends.hf_blip2_retrieval import HfBlip2RetrievalBackend
from blip2_bench.demo.tiny_retrieval import build_tiny_blip2_retrieval
from blip2_bench.errors import BadInputError
from blip2_bench.types import GenerationRequest, GenerationSettings, ImageSource

pytestmark = pytest.mark.slow


def _options(model, family: str, **overrides) -> HfBlip2Options:
    return HfBlip2Options(
        name="t", model=str(model), family=family, dtype="float32", device="cpu", image_size=32, **overrides
    )


def _requests() -> tuple[list[GenerationRequest], dict[str, Image.Image]]:
    settings = GenerationSettings(num_beams=3, max_new_tokens=5, min_new_tokens=1, length_penalty=-1.0)
    images = {f"i{k}": Image.new("RGB", (40, 30 + k), color=(60 * k, 100, 220 - 50 * k)) for k in range(3)}
    requests = [
        GenerationRequest(
            f"{k}-{q}", ImageSource(f"i{k}", path="unused"), f"Question: q{q}{' y' * q} Answer:", settings
        )
        for k in range(3)
        for q in range(2)
    ]
    return requests, images


def test_unknown_attention_is_refused_with_the_choices():
    with pytest.raises(
        BadInputError, match=r"backend.attention must be one of \('auto', 'sdpa', 'eager'\), got 'flash'"
    ):
        HfBlip2Options(name="t", model="m", family="opt", attention="flash")


def test_kernel_choices_join_the_identity_only_when_chosen():
    plain = hf_identity(HfBlip2Options(name="t", model="m", family="opt"), torch.float32)
    assert "attention" not in plain and "compile" not in plain  # journals written before the options stay valid
    chosen = hf_identity(
        HfBlip2Options(name="t", model="m", family="opt", attention="eager", compile=True), torch.float32
    )
    assert chosen["attention"] == "eager" and chosen["compile"] is True


@pytest.mark.parametrize("family", ["opt", "t5"])
def test_eager_and_sdpa_attention_give_the_default_answers_and_are_recorded(tiny_models, family):
    requests, images = _requests()
    answers = {}
    for attention in ("auto", "eager", "sdpa"):
        backend = HfBlip2Backend(_options(tiny_models[family], family, attention=attention))
        answers[attention] = backend.generate(requests, images)
        recorded = backend.provenance()["attention"]
        assert set(recorded) == {"vision_model", "qformer", "language_model"}
        if attention != "auto":
            # Parts without an SDPA kernel would fall back to eager; the record says what each part ran.
            assert set(recorded.values()) <= {attention, "eager"}, recorded
            assert recorded["language_model"] == attention
    assert answers["eager"] == answers["auto"] == answers["sdpa"]


def test_compiled_vision_encoder_gives_the_same_answers_and_is_recorded(tiny_models):
    requests, images = _requests()
    plain = HfBlip2Backend(_options(tiny_models["opt"], "opt"))
    compiled = HfBlip2Backend(_options(tiny_models["opt"], "opt", compile=True))
    assert compiled.provenance()["compiled"] == "vision_model" and plain.provenance()["compiled"] is None
    assert compiled.generate(requests, images) == plain.generate(requests, images)
    # Compiled in place: the vision encoder still exposes its loaded parameters under their names.
    assert (
        dict(compiled.model.vision_model.named_parameters()).keys()
        == dict(plain.model.vision_model.named_parameters()).keys()
    )


def test_retrieval_backend_takes_the_attention_choice(tmp_path):
    model = build_tiny_blip2_retrieval(tmp_path / "tiny-itm", seed=0)
    images = [Image.new("RGB", (36, 36), color=(30 * k, 80, 160)) for k in range(2)]
    features, recorded = {}, {}
    for attention in ("auto", "eager", "sdpa"):
        backend = HfBlip2RetrievalBackend(_options(model, "itm", attention=attention))
        features[attention] = backend.embed_images(images).itc
        recorded[attention] = backend.provenance()["attention"]
    # The choice reaches every part (both have an SDPA kernel), and auto is transformers' SDPA here,
    # so the features below come from two different kernels.
    assert recorded["eager"] == {"vision_model": "eager", "qformer": "eager"}
    assert recorded["sdpa"] == recorded["auto"] == {"vision_model": "sdpa", "qformer": "sdpa"}
    torch.testing.assert_close(features["eager"], features["auto"], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(features["eager"], features["sdpa"], atol=1e-5, rtol=1e-4)


def test_default_kernels_keep_the_journal_keys_of_runs_from_before_the_options(tmp_path):
    """A run journaled before backend.attention/compile existed resumes; choosing them recomputes."""
    from dataclasses import asdict, make_dataclass

    from blip2_bench.config import RunConfig
    from blip2_bench.runner.context import RunContext
    from blip2_bench.runner.rundir import RunDir

    def key(options) -> str:
        ctx = RunContext(RunConfig(), options, HfBlip2Backend, RunDir(tmp_path))
        return ctx.stage_key("vqav2", "generate")

    current = HfBlip2Options(name="t", model="m", family="opt")
    older_fields = [(f, type(v), v) for f, v in asdict(current).items() if f not in ("attention", "compile")]
    older = make_dataclass("OlderOptions", older_fields)()  # the options as they were before
    assert key(current) == key(older)
    assert key(HfBlip2Options(name="t", model="m", family="opt", attention="eager")) != key(current)
    assert key(HfBlip2Options(name="t", model="m", family="opt", compile=True)) != key(current)
