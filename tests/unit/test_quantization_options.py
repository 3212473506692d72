"""backend.quantization: validated, refused without CUDA/bitsandbytes in one line, part of the
identity, and the known all-empty-answers failure stops the run instead of scoring zeros."""

from __future__ import annotations

import pytest

from blip2_bench.backends._hf import HfBlip2Options, check_device, check_quantized_answers, hf_identity
from blip2_bench.errors import BadInputError, BenchError


def _options(**kw) -> HfBlip2Options:
    return HfBlip2Options(name="b", model="Salesforce/blip2-opt-2.7b", **kw)


def test_unknown_quantization_is_refused_with_the_choices():
    with pytest.raises(BadInputError, match=r"backend.quantization must be one of \('none', '8bit', '4bit'\)"):
        _options(quantization="int3")


@pytest.mark.parametrize("quantization", ["8bit", "4bit"])
def test_quantization_without_cuda_is_one_clear_line(quantization, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(BadInputError, match=f"backend.quantization={quantization} needs a CUDA device"):
        check_device(_options(quantization=quantization, device="auto"))


def test_quantization_without_bitsandbytes_says_what_to_install(monkeypatch):
    import importlib.util

    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 1)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bitsandbytes" else real(name))
    with pytest.raises(BadInputError, match="needs bitsandbytes: pip install bitsandbytes"):
        check_device(_options(quantization="8bit", device="cuda"))


def test_quantization_is_part_of_the_identity_and_absent_when_off():
    import torch

    plain = hf_identity(_options(), torch.float16)
    assert "quantization" not in plain
    assert hf_identity(_options(quantization="4bit"), torch.float16)["quantization"] == "4bit"


def test_all_empty_answers_from_a_quantized_model_stop_the_run():
    with pytest.raises(BenchError, match="8bit-quantized model returned an empty answer for all 3 requests"):
        check_quantized_answers(_options(quantization="8bit"), ["", " ", ""])
    check_quantized_answers(_options(quantization="8bit"), ["", "yes", ""])  # some answers: scored
    check_quantized_answers(_options(), ["", "", ""])  # unquantized: empty answers are scored (and counted)


def test_the_retrieval_backend_refuses_quantization():
    from blip2_bench.backends.hf_blip2_retrieval import HfBlip2RetrievalBackend

    with pytest.raises(BadInputError, match="quantization is for generation backends only"):
        HfBlip2RetrievalBackend.preflight(_options(quantization="8bit", family="itm"))
