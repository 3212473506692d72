"""The HF retrieval backend on a tiny real Blip2ForImageTextRetrieval: HF equivalence, padding, re-ranking."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import Blip2ForImageTextRetrieval

from blip2_bench.backends._hf import HfBlip2Options as BackendConfig
from blip2_bench.backends.hf_blip2_retrieval import MAX_TEXT_TOKENS, HfBlip2RetrievalBackend
from blip2_bench.data.retrieval import load_lavis_list
from blip2_bench.demo.retrieval_fixture import write_flickr30k_fixture
from blip2_bench.demo.tiny_retrieval import build_tiny_blip2_retrieval
from blip2_bench.errors import BadInputError
from blip2_bench.metrics.retrieval import (
    NOT_CANDIDATE,
    assemble_reranked,
    candidate_pairs,
    itc_similarity,
    recall_metrics,
    rerank_candidates,
)
from blip2_bench.text import blip_caption
from blip2_bench.types import ModelTraits

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_itm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_blip2_retrieval(tmp_path_factory.mktemp("tiny_itm") / "tiny-itm", seed=0)


@pytest.fixture(scope="module")
def backend(tiny_itm: Path) -> HfBlip2RetrievalBackend:
    return HfBlip2RetrievalBackend(
        BackendConfig(name="tiny-itm", model=str(tiny_itm), family="itm", image_size=32, dtype="float32", device="cpu")
    )


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Image.Image], list[str], object]:
    fx = write_flickr30k_fixture(tmp_path_factory.mktemp("flickr"), n_images=6)
    data = load_lavis_list(fx.lavis_file, fx.image_root, "flickr30k")
    images = [Image.open(img.path).convert("RGB") for img in data.images]
    return images, [blip_caption(t) for t in data.texts], data


def test_tiny_model_is_a_retrieval_model_with_a_bert_tokenizer(tiny_itm: Path, backend) -> None:
    config = json.loads((tiny_itm / "config.json").read_text())
    assert config["architectures"] == ["Blip2ForImageTextRetrieval"]
    assert config["qformer_config"]["use_qformer_text_input"] is True
    tok = backend.tokenizer
    assert tok.pad_token_id == 0 and tok.padding_side == "right"
    ids = tok("a dog").input_ids
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert backend.traits(backend.config) == ModelTraits("itm", 32)


def test_features_and_itm_equal_hf_forward(tiny_itm: Path, backend, gallery) -> None:
    images, texts, _ = gallery
    images, texts = images[:4], texts[:7]
    itc_images, vision = backend.image_features(images)
    itc_texts, tokens = backend.text_features(texts)
    assert itc_images.dtype == torch.float32 and itc_images.shape == (4, 4, 16)
    assert torch.allclose(itc_images.norm(dim=-1), torch.ones(4, 4), atol=1e-6)
    model = Blip2ForImageTextRetrieval.from_pretrained(tiny_itm, local_files_only=True).eval()
    pixels = backend.processor.image_processor(images, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        itc = model(pixels, tokens["input_ids"], tokens["attention_mask"], use_image_text_matching_head=False)
    # HF's logits_per_image is the unscaled max-over-queries cosine: no temperature.
    assert float((itc_similarity(itc_images, itc_texts) - itc.logits_per_image).abs().max()) <= 1e-6
    assert float((itc.text_embeds - itc_texts).abs().max()) <= 1e-6
    # ITM for every (image, text) pair: HF's forward on the repeated pair vs our reuse of vision outputs.
    img_idx = torch.arange(4).repeat_interleave(7)
    txt_idx = torch.arange(7).repeat(4)
    ours = backend.itm_scores(vision[img_idx], tokens["input_ids"][txt_idx], tokens["attention_mask"][txt_idx])
    with torch.no_grad():
        itm = model(
            pixels[img_idx],
            tokens["input_ids"][txt_idx],
            tokens["attention_mask"][txt_idx],
            use_image_text_matching_head=True,
        )
    assert float((ours - itm.logits_per_image[:, 1]).abs().max()) <= 1e-6


def test_truncation_at_35_tokens_and_padding_invariance(backend, gallery) -> None:
    images, texts, _ = gallery
    long_text = max(texts, key=len)
    assert len(backend.tokenizer(long_text).input_ids) > MAX_TEXT_TOKENS
    batch = [texts[0], long_text, "a dog"]
    itc_batch, tokens = backend.text_features(batch)
    assert tokens["input_ids"].shape[1] == MAX_TEXT_TOKENS  # the long one is cut to 35 (LAVIS)
    assert int(tokens["input_ids"][1, -1]) == backend.tokenizer.sep_token_id
    _, vision = backend.image_features(images[:1])
    itm_batch = backend.itm_scores(vision.expand(3, -1, -1), tokens["input_ids"], tokens["attention_mask"])
    short = [texts[0], "a dog"]
    itc_longest, tok_longest = backend.text_features(short)  # padded to the batch max (< 35)
    itc_lavis, tok_lavis = backend.text_features(short, padding="max_length")  # LAVIS: always 35
    assert tok_longest["input_ids"].shape[1] < 35 == tok_lavis["input_ids"].shape[1]
    assert float((itc_longest - itc_lavis).abs().max()) <= 1e-6
    for i, text in enumerate(batch):
        # Alone (no padding) vs inside a batch padded to 35 by the long text: same ITC and ITM.
        alone, tok = backend.text_features([text])
        assert float((alone - itc_batch[i]).abs().max()) <= 1e-6
        itm_alone = backend.itm_scores(vision, tok["input_ids"], tok["attention_mask"])
        assert float((itm_alone - itm_batch[i]).abs().max()) <= 1e-6


def test_reranking_path_equals_a_dense_itm_reference(backend, gallery) -> None:
    images, texts, data = gallery
    itc_images, vision = backend.image_features(images)
    itc_texts, tokens = backend.text_features(texts)
    sim = itc_similarity(itc_images, itc_texts, chunk_size=2, max_chunk_elements=64)
    k = 3
    i2t_idx, t2i_idx = rerank_candidates(sim, k)
    pairs = candidate_pairs(i2t_idx, t2i_idx)
    itm = torch.cat(
        [
            backend.itm_scores(
                vision[chunk[:, 0]], tokens["input_ids"][chunk[:, 1]], tokens["attention_mask"][chunk[:, 1]]
            )
            for chunk in pairs.split(5)
        ]
    )
    score_i2t, score_t2i = assemble_reranked(sim, i2t_idx, t2i_idx, pairs, itm)
    # Reference: ITM for ALL pairs, then keep each query's top-k by ITC (stable), -100 elsewhere.
    n_img, n_txt = sim.shape
    dense_itm = torch.stack(
        [
            backend.itm_scores(vision[i].expand(n_txt, -1, -1), tokens["input_ids"], tokens["attention_mask"])
            for i in range(n_img)
        ]
    )
    ref_i2t = np.full((n_img, n_txt), NOT_CANDIDATE, dtype=np.float32)
    for i in range(n_img):
        top = sorted(range(n_txt), key=lambda t: (-float(sim[i, t]), t))[:k]
        ref_i2t[i, top] = (dense_itm[i, top] + sim[i, top]).numpy()
    ref_t2i = np.full((n_txt, n_img), NOT_CANDIDATE, dtype=np.float32)
    for t in range(n_txt):
        top = sorted(range(n_img), key=lambda i: (-float(sim[i, t]), i))[:k]
        ref_t2i[t, top] = (dense_itm[top, t] + sim[top, t]).numpy()
    np.testing.assert_allclose(score_i2t, ref_i2t, atol=1e-6, rtol=0)
    np.testing.assert_allclose(score_t2i, ref_t2i, atol=1e-6, rtol=0)
    assert recall_metrics(score_i2t, score_t2i, data.txt2img, data.img2txt) == recall_metrics(
        ref_i2t, ref_t2i, data.txt2img, data.img2txt
    )


def test_half_precision_vision_keeps_the_rest_in_fp32(tiny_itm: Path, gallery) -> None:
    cfg = BackendConfig(name="t", model=str(tiny_itm), family="itm", image_size=32, dtype="float16", device="cpu")
    half = HfBlip2RetrievalBackend(cfg)
    dtypes = half.provenance()["component_dtypes"]
    assert dtypes["vision_model"] == "float16"
    assert {v for k, v in dtypes.items() if k != "vision_model"} == {"float32"}
    images, texts, _ = gallery
    itc, vision = half.image_features(images[:2])
    assert itc.dtype == torch.float32 and vision.dtype == torch.float16
    _, tokens = half.text_features(texts[:2])
    assert half.itm_scores(vision, tokens["input_ids"], tokens["attention_mask"]).dtype == torch.float32


def test_a_generation_checkpoint_is_refused_before_loading(
    tiny_models: dict[str, Path], tiny_itm: Path, tmp_path: Path
) -> None:
    cfg = BackendConfig(name="opt", model=str(tiny_models["opt"]), family="itm")
    with pytest.raises(BadInputError, match="is a Blip2ForConditionalGeneration checkpoint, not an image-text"):
        HfBlip2RetrievalBackend.preflight(cfg)
    with pytest.raises(BadInputError, match="no BLIP-2 checkpoint"):
        HfBlip2RetrievalBackend.preflight(BackendConfig(name="x", model=str(tmp_path / "none"), family="itm"))
    # A retrieval architecture without the Q-Former text path (old configs' "qformer_text_input" typo).
    broken = tmp_path / "broken"
    shutil.copytree(tiny_itm, broken)
    config = json.loads((broken / "config.json").read_text())
    config["qformer_config"]["use_qformer_text_input"] = False
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(BadInputError, match="not an image-text retrieval model"):
        HfBlip2RetrievalBackend(BackendConfig(name="b", model=str(broken), family="itm", image_size=32))
