"""The runner's batch plan: grouped by image, deterministic, complete; batch keys follow content."""

from blip2_bench.distributed import DistEnv
from blip2_bench.runner.plan import generation_batch_key, my_share, plan_batches
from blip2_bench.types import GenerationRequest, GenerationSettings, ImageSource

S = GenerationSettings(1, 2, 1)


def _req(sid: str, image: str, prompt: str = "p") -> GenerationRequest:
    return GenerationRequest(sid, ImageSource(image, path=image), prompt, S)


def test_questions_of_one_image_are_adjacent_and_every_request_is_planned_once():
    reqs = [_req("a", "i1"), _req("b", "i2"), _req("c", "i1"), _req("d", "i3"), _req("e", "i2")]
    plan = plan_batches(reqs, 2)
    assert plan == [[0, 2], [1, 4], [3]]
    assert sorted(i for b in plan for i in b) == list(range(5))


def test_plan_is_first_appearance_order_of_images_then_cut():
    reqs = [_req(str(i), f"img{i % 3}") for i in range(10)]
    assert plan_batches(reqs, 100) == [[0, 3, 6, 9, 1, 4, 7, 2, 5, 8]]
    assert plan_batches(reqs, 4) == [[0, 3, 6, 9], [1, 4, 7, 2], [5, 8]]


def test_ranks_share_the_one_plan_without_overlap():
    shares = [my_share(7, DistEnv(rank=r, world_size=3)) for r in range(3)]
    assert shares == [[0, 3, 6], [1, 4], [2, 5]]


def test_batch_key_changes_with_prompt_and_image_content_only():
    reqs = [_req("a", "i1"), _req("b", "i1")]
    hashes = {"i1": "sha256:1"}
    key = generation_batch_key(reqs, hashes)
    assert generation_batch_key([_req("a", "i1"), _req("b", "i1")], dict(hashes)) == key  # rebuilt: same
    assert generation_batch_key(reqs, {"i1": "sha256:2"}) != key  # edited image
    assert generation_batch_key([_req("a", "i1", "q"), _req("b", "i1")], hashes) != key  # other prompt
    assert generation_batch_key(list(reversed(reqs)), hashes) != key  # other order: other padding
