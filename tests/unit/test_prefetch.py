"""The image prefetcher: decodes ahead in order, bounded, and a bad image fails at its own batch."""

from __future__ import annotations

import threading

import pytest
from PIL import Image

from blip2_bench.errors import BadInputError
from blip2_bench.runner.prefetch import ImagePrefetcher
from blip2_bench.types import GenerationRequest, GenerationSettings, ImageSource

S = GenerationSettings(1, 2, 1)


def _batches(tmp_path, n: int, broken: int | None = None) -> list[list[GenerationRequest]]:
    batches = []
    for k in range(n):
        path = tmp_path / f"{k}.jpg"
        if k == broken:
            path.write_bytes(b"not a jpeg")
        else:
            Image.new("RGB", (8, 8), (k * 20, 0, 0)).save(path)
        source = ImageSource(f"img{k}", path=str(path))
        batches.append([GenerationRequest(f"{k}-a", source, "p", S), GenerationRequest(f"{k}-b", source, "p", S)])
    return batches


def test_decodes_each_image_once_in_the_given_order_and_only_a_few_batches_ahead(tmp_path):
    batches = _batches(tmp_path, 6)
    with ImagePrefetcher(batches, [4, 1, 2, 5], workers=2, ahead=1) as pre:
        first = pre.images(4)
        assert set(first) == {"img4"} and abs(first["img4"].result().getpixel((0, 0))[0] - 80) <= 3
        assert set(pre._futures) == {1}  # batch 1 (next in order) is decoding; nothing further
        assert set(pre.images(1)) == {"img1"}
        assert pre.images(0) == {}  # not planned for this rank: the loop decodes it


def test_a_bad_image_raises_its_own_error_when_its_batch_is_reached(tmp_path):
    batches = _batches(tmp_path, 3, broken=1)
    with ImagePrefetcher(batches, [0, 1, 2], workers=2) as pre:
        assert pre.images(0)["img0"].result().size == (8, 8)
        with pytest.raises(BadInputError, match="1.jpg"):
            pre.images(1)["img1"].result()
        assert pre.images(2)["img2"].result().size == (8, 8)


def test_no_workers_means_decoding_in_the_loop(tmp_path):
    with ImagePrefetcher(_batches(tmp_path, 2), [0, 1], workers=0) as pre:
        assert pre.images(0) == {}


def _decode_threads(workers: int) -> int:
    return sum(t.name.startswith(f"decode{workers}_") for t in threading.enumerate())


def test_the_threads_are_kept_for_the_next_prefetcher_which_closing_does_not_disturb(tmp_path):
    batches = _batches(tmp_path, 4)
    gate = threading.Event()
    first = ImagePrefetcher(batches, [0, 1, 2, 3], workers=2, ahead=3, prepare=lambda image: gate.wait(10))
    threads = {t for t in threading.enumerate() if t.name.startswith("decode2_")}
    second = ImagePrefetcher(batches, [0, 1], workers=2, prepare=lambda image: image.size)
    assert {t for t in threading.enumerate() if t.name.startswith("decode2_")} == threads and len(threads) == 2
    first.images(0)  # schedules batches 1-3: both threads then wait on the gate, batch 3 queued
    queued = first._futures[3]["img3"]
    assert second.images(0)["img0"].result().size == (8, 8)  # schedules its batch 1, queued behind them
    first.close()  # cancels only the first prefetcher's pending work
    gate.set()
    assert second.images(1)["img1"].result(timeout=10) == (8, 8) and queued.cancelled()
    second.close()


def test_the_first_batch_is_decoded_in_the_calling_thread_and_the_threads_start_beforehand(tmp_path):
    prepared_in: list[str] = []

    def prepare(image):
        prepared_in.append(threading.current_thread().name)
        return ("prepared", image.size)

    with ImagePrefetcher(_batches(tmp_path, 3), [0, 1, 2], workers=3, prepare=prepare) as pre:
        assert _decode_threads(3) == 3 and pre._futures == {}  # up before any batch
        first = pre.images(0)["img0"].result()
        assert isinstance(first, Image.Image) and first.size == (8, 8)  # left for the backend to prepare
        assert set(pre._futures) == {1, 2}  # scheduled once batch 0 was decoded
        assert pre.images(1)["img1"].result() == ("prepared", (8, 8))
        assert pre.images(2)["img2"].result() == ("prepared", (8, 8))
    assert len(prepared_in) == 2 and all(name.startswith("decode") for name in prepared_in)


def test_a_bad_image_in_the_first_batch_fails_when_its_result_is_read(tmp_path):
    with ImagePrefetcher(_batches(tmp_path, 2, broken=0), [0, 1], workers=2) as pre:
        first = pre.images(0)  # decoding it here raises nothing yet, as a thread's future would not
        with pytest.raises(BadInputError, match="0.jpg"):
            first["img0"].result()
        assert pre.images(1)["img1"].result().size == (8, 8)
