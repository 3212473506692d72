"""Shared fixtures: tiny real BLIP-2 models and VQAv2 data in the official formats, built once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from blip2_bench.demo.tiny_models import build_tiny_blip2
from blip2_bench.demo.vqav2_fixture import VqaFixture, write_vqav2_fixture


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # File hashes and the index of journals live under ~/.cache by default; each test keeps its
    # own, so one test never reuses the outputs another computed.
    monkeypatch.setenv("BLIP2_BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {family: build_tiny_blip2(root / f"tiny-{family}", family) for family in ("opt", "t5")}


@pytest.fixture(scope="session")
def vqa_fixture_master(tmp_path_factory: pytest.TempPathFactory) -> VqaFixture:
    return write_vqav2_fixture(tmp_path_factory.mktemp("vqav2"), n_images=4, questions_per_image=3)


@pytest.fixture
def vqa_data(vqa_fixture_master: VqaFixture, tmp_path: Path) -> Path:
    """A private copy of the fixture data root, free to corrupt."""
    root = tmp_path / "data"
    shutil.copytree(vqa_fixture_master.root, root)
    return root


def read_json(path: Path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def journal_outputs(path: Path) -> list[dict]:
    """Per-sample outputs of a generation journal (one line per batch); a torn line is skipped."""
    outputs = []
    if Path(path).is_file():
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            try:
                outputs += json.loads(line)["outputs"]
            except json.JSONDecodeError:
                pass
    return outputs


@pytest.fixture(scope="session")
def tiny_itm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from blip2_bench.demo.tiny_retrieval import build_tiny_blip2_retrieval

    return build_tiny_blip2_retrieval(tmp_path_factory.mktemp("itm") / "tiny-itm")


@pytest.fixture(scope="session")
def flickr_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from blip2_bench.demo.retrieval_fixture import write_flickr30k_fixture

    return write_flickr30k_fixture(tmp_path_factory.mktemp("flickr"), n_images=8).root


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`gpu` tests run where CUDA is, and are reported as skipped (with the reason) elsewhere."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
