"""The runner's batch plan: grouped by image, deterministic, complete."""

from blip2_bench.drivers.generation import plan_batches
from blip2_bench.types import GenerationRequest, GenerationSettings, ImageSource

S = GenerationSettings(1, 2, 1)


def _req(sid: str, image: str) -> GenerationRequest:
    return GenerationRequest(sid, ImageSource(image, path=image), "p", S)


def test_questions_of_one_image_are_adjacent_and_every_request_is_planned_once():
    reqs = [_req("a", "i1"), _req("b", "i2"), _req("c", "i1"), _req("d", "i3"), _req("e", "i2")]
    plan = plan_batches(reqs, 2)
    assert plan == [[0, 2], [1, 4], [3]]
    assert sorted(i for b in plan for i in b) == list(range(5))


def test_plan_depends_only_on_requests_and_batch_size():
    reqs = [_req(str(i), f"img{i % 3}") for i in range(10)]
    assert plan_batches(reqs, 4) == plan_batches(list(reqs), 4)
    assert [len(b) for b in plan_batches(reqs, 4)] == [4, 4, 2]
    assert plan_batches(reqs, 100) == [[0, 3, 6, 9, 1, 4, 7, 2, 5, 8]]
