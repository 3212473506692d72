"""batch_order=length packs other images together than file order; on fp32 (CPU) the answers
stay the same, and the default leaves a run's identity as it was before the option existed."""

from __future__ import annotations

import pytest

from blip2_bench.cli import identity_config, main
from tests.conftest import read_json, read_jsonl

pytestmark = pytest.mark.slow


def _members(run_dir) -> set[tuple[str, ...]]:
    return {tuple(o["id"] for o in entry["outputs"]) for entry in read_jsonl(run_dir / "journal" / "vqav2.jsonl")}


@pytest.mark.parametrize("family", ["opt", "t5"])
def test_length_order_changes_the_batches_not_the_answers(tiny_models, vqa_data, tmp_path, family):
    runs = {}
    for order in ("image", "length"):
        runs[order] = tmp_path / order
        args = [
            f"backend=tiny-{family}",
            f"backend.model={tiny_models[family]}",
            f"data_root={vqa_data}",
            f"hydra.run.dir={runs[order]}",
            "backend.batch_size=9",  # three images of three questions per batch, then one
            "reuse_outputs=false",
            f"batch_order={order}",
        ]
        assert main(args) == 0
    assert _members(runs["image"]) != _members(runs["length"])  # other images share a batch
    samples = {order: read_jsonl(run / "samples" / "vqav2.jsonl") for order, run in runs.items()}
    assert samples["image"] == samples["length"]
    assert len({s["raw_output"] for s in samples["image"]}) > 1  # real, varied generations compared
    assert read_json(runs["length"] / "results.json")["config"]["batch_order"] == "length"


def test_the_default_order_is_left_out_of_the_identity():
    assert identity_config({"limit": None, "batch_order": "image"}) == {"limit": None}
    assert identity_config({"limit": None, "batch_order": "length"}) == {"limit": None, "batch_order": "length"}
