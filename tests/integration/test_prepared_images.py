"""Image preprocessing in the decode threads (`prepare_image`): the same pixels, so the same
answers, as processing the batch in the loop, for every HF generation backend and the runner."""

from __future__ import annotations

import threading

import pytest
import torch
from PIL import Image

from blip2_bench.backends._hf import HfBlip2Options, pixel_values
from blip2_bench.backends.hf_blip2 import HfBlip2Backend
from blip2_bench.cli import main
from blip2_bench.runner.prefetch import ImagePrefetcher
from blip2_bench.types import GenerationRequest, GenerationSettings, ImageSource
from tests.conftest import read_jsonl

pytestmark = pytest.mark.slow


def _images(tmp_path) -> dict[str, ImageSource]:
    sources = {}
    for k, size in enumerate([(41, 29), (32, 32), (17, 60)]):  # odd sizes: every image is resized
        path = tmp_path / f"{k}.png"
        Image.new("RGB", size, color=(70 * k, 120, 230 - 60 * k)).save(path)
        sources[f"i{k}"] = ImageSource(f"i{k}", path=str(path))
    return sources


def _requests(sources) -> list[GenerationRequest]:
    settings = GenerationSettings(num_beams=3, max_new_tokens=5, min_new_tokens=1, length_penalty=-1.0)
    return [
        GenerationRequest(f"{key}-{q}", source, f"Question: q{q}{' z' * q} Answer:", settings)
        for key, source in sources.items()
        for q in range(2)
    ]


def test_one_image_at_a_time_gives_the_batch_processors_pixels(tiny_models, tmp_path):
    backend = HfBlip2Backend(HfBlip2Options(name="t", model=str(tiny_models["opt"]), family="opt", image_size=32))
    images = [Image.open(s.path).convert("RGB") for s in _images(tmp_path).values()]
    batch = backend.processor.image_processor(images, return_tensors="pt")["pixel_values"]
    single = torch.stack([pixel_values(backend.processor.image_processor, image) for image in images])
    assert single.dtype == batch.dtype and torch.equal(single, batch)


@pytest.mark.parametrize("family", ["opt", "t5"])
def test_prepared_images_give_the_answers_of_raw_images(tiny_models, tmp_path, family):
    backend = HfBlip2Backend(
        HfBlip2Options(name="t", model=str(tiny_models[family]), family=family, image_size=32, device="cpu")
    )
    sources = _images(tmp_path)
    requests = _requests(sources)
    raw = {key: Image.open(s.path).convert("RGB") for key, s in sources.items()}
    threads: set[str] = set()

    def prepare(image):
        threads.add(threading.current_thread().name)
        return backend.prepare_image(image)

    # The first batch of an order is decoded in the calling thread; the second is prepared ahead.
    with ImagePrefetcher([requests, requests], [0, 1], workers=2, prepare=prepare) as prefetcher:
        first = {key: future.result() for key, future in prefetcher.images(0).items()}
        prepared = {key: future.result() for key, future in prefetcher.images(1).items()}
    assert all(isinstance(p, Image.Image) for p in first.values())
    assert all(isinstance(p, torch.Tensor) for p in prepared.values())
    assert threads and all(name.startswith("decode") for name in threads)  # off the model's thread
    assert backend.generate(requests, prepared) == backend.generate(requests, raw)


def test_instructblip_prepared_images_give_the_answers_of_raw_images(tmp_path):
    from blip2_bench.backends.hf_instructblip import HfInstructBlipBackend, HfInstructBlipOptions
    from blip2_bench.demo.tiny_instructblip import build_tiny_instructblip

    model = build_tiny_instructblip(tmp_path / "tiny-ib", "t5")
    backend = HfInstructBlipBackend(
        HfInstructBlipOptions(name="t", model=str(model), family="t5", image_size=32, device="cpu")
    )
    sources = _images(tmp_path)
    requests = _requests(sources)
    raw = {key: Image.open(s.path).convert("RGB") for key, s in sources.items()}
    prepared = {key: backend.prepare_image(image) for key, image in raw.items()}
    assert backend.generate(requests, prepared) == backend.generate(requests, raw)


def test_a_run_with_preprocessing_threads_writes_the_samples_of_a_run_without(tiny_models, vqa_data, tmp_path):
    for workers in (0, 3):
        args = [
            "backend=tiny-opt",
            f"backend.model={tiny_models['opt']}",
            f"data_root={vqa_data}",
            f"hydra.run.dir={tmp_path / f'w{workers}'}",
            "backend.batch_size=4",
            f"image_workers={workers}",
        ]
        assert main(args) == 0
    assert read_jsonl(tmp_path / "w0" / "samples" / "vqav2.jsonl") == read_jsonl(
        tmp_path / "w3" / "samples" / "vqav2.jsonl"
    )
