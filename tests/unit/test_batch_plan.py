"""The runner's batch plan: grouped by image, deterministic, complete; batch keys follow content."""

import pytest

from blip2_bench.config import RunConfig
from blip2_bench.distributed import DistEnv
from blip2_bench.errors import BadInputError
from blip2_bench.runner.plan import generation_batch_key, my_share, padding_fraction, plan_batches
from blip2_bench.types import GenerationRequest, GenerationSettings, ImageSource

S = GenerationSettings(1, 2, 1)


def _req(sid: str, image: str, prompt: str = "p") -> GenerationRequest:
    return GenerationRequest(sid, ImageSource(image, path=image), prompt, S)


def test_questions_of_one_image_are_adjacent_and_every_request_is_planned_once():
    reqs = [_req("a", "i1"), _req("b", "i2"), _req("c", "i1"), _req("d", "i3"), _req("e", "i2")]
    plan = plan_batches(reqs, 2)
    assert plan == [[0, 2], [1, 4], [3]]
    assert sorted(i for b in plan for i in b) == list(range(5))


def test_plan_packs_whole_images_in_first_appearance_order():
    reqs = [_req(str(i), f"img{i % 3}") for i in range(10)]
    assert plan_batches(reqs, 100) == [[0, 3, 6, 9, 1, 4, 7, 2, 5, 8]]
    assert plan_batches(reqs, 4) == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]  # img2 never split across batches
    assert plan_batches(reqs, 7) == [[0, 3, 6, 9, 1, 4, 7], [2, 5, 8]]


def test_an_image_with_more_questions_than_a_batch_gets_batches_of_its_own():
    reqs = [_req("a", "small"), *(_req(f"b{i}", "big") for i in range(5)), _req("c", "small2")]
    plan = plan_batches(reqs, 2)
    assert plan == [[0], [1, 2], [3, 4], [5], [6]]
    for batch in plan:  # every batch holds one image, or whole images only
        images = {reqs[i].image.key for i in batch}
        assert len(images) == 1 or all(
            sum(r.image.key == k for r in reqs) == sum(reqs[i].image.key == k for i in batch) for k in images
        )


def test_whole_images_never_straddle_a_boundary_on_vqa_shaped_plans():
    import random

    rng = random.Random(0)
    reqs = [_req(f"{n}-{q}", f"img{n}") for n in range(200) for q in range(rng.randint(1, 9))]
    rng.shuffle(reqs)
    for size in (1, 3, 4, 8, 16, 64):
        plan = plan_batches(reqs, size)
        assert sorted(i for b in plan for i in b) == list(range(len(reqs)))
        assert all(0 < len(b) <= size for b in plan)
        where: dict[str, set[int]] = {}
        for k, batch in enumerate(plan):
            for i in batch:
                where.setdefault(reqs[i].image.key, set()).add(k)
        for key, batches in where.items():
            if len(batches) > 1:  # split only when it cannot fit, and then alone in those batches
                assert sum(r.image.key == key for r in reqs) > size
                assert all({reqs[i].image.key for i in plan[k]} == {key} for k in batches)


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


def test_length_order_sorts_whole_images_by_their_longest_prompt():
    reqs = [_req("a", "i1", "x" * 30), _req("b", "i2", "x" * 5), _req("c", "i1", "x" * 3)]
    reqs += [_req("d", "i3", "x" * 12), _req("e", "i2", "x" * 8)]
    # Longest prompt per image: i1 30, i2 8, i3 12, so i2, i3, i1; each image still whole.
    assert plan_batches(reqs, 2, "length") == [[1, 4], [3], [0, 2]]
    assert plan_batches(reqs, 2) == [[0, 2], [1, 4], [3]]  # the default keeps file order


def test_length_order_is_stable_and_keeps_the_plan_rules():
    import random

    rng = random.Random(3)
    same = [_req(str(i), f"img{i % 4}", "q" * 20) for i in range(12)]
    assert plan_batches(same, 4, "length") == plan_batches(same, 4)  # ties keep file order
    reqs = [
        _req(f"{n}-{q}", f"img{n}", "Question: " + "w " * rng.randint(3, 30) + "Answer:")
        for n in range(300)
        for q in range(rng.randint(1, 9))
    ]
    rng.shuffle(reqs)
    lengths = [len(r.prompt) for r in reqs]
    for size in (4, 16, 64):
        by_length, by_image = plan_batches(reqs, size, "length"), plan_batches(reqs, size)
        assert sorted(i for b in by_length for i in b) == list(range(len(reqs)))
        assert all(0 < len(b) <= size for b in by_length)
        for batch in by_length:  # whole images, or one image alone when it cannot fit
            keys = {reqs[i].image.key for i in batch}
            assert len(keys) == 1 or all(
                sum(r.image.key == k for r in reqs) == sum(reqs[i].image.key == k for i in batch) for k in keys
            )
        assert padding_fraction(by_length, lengths) < padding_fraction(by_image, lengths)


def test_padding_fraction_counts_the_padded_positions():
    assert padding_fraction([[0, 1], [2]], [3, 1, 5]) == 1 - 9 / 11  # 2 x 3 + 1 x 5 positions, 9 real
    assert padding_fraction([[0, 1, 2]], [4, 4, 4]) == 0.0
    assert padding_fraction([], []) == 0.0


def test_an_unknown_batch_order_is_refused_with_the_choices():
    with pytest.raises(BadInputError, match=r"batch_order must be one of \('image', 'length'\), got 'size'"):
        plan_batches([_req("a", "i")], 2, "size")
    with pytest.raises(BadInputError, match="batch_order must be one of"):
        RunConfig(batch_order="size")
