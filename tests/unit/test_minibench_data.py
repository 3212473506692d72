"""The generated mini benchmark: deterministic, read by the real loaders, train/test disjoint, novel objects novel."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest
from PIL import Image

from blip2_bench.data.coco_captions import load_karpathy_dataset, load_lavis_karpathy
from blip2_bench.data.nocaps import load_nocaps
from blip2_bench.data.retrieval import load_karpathy, load_lavis_list
from blip2_bench.data.vqav2 import load_official
from blip2_bench.metrics.vqa_accuracy import VqaRecord, vqa_scores
from blip2_bench.minibench.batches import generator_examples, retrieval_texts
from blip2_bench.minibench.build import Sizes, make_minibench, plan, training_scenes
from blip2_bench.minibench.language import caption, clean_captions
from blip2_bench.minibench.scenes import IMAGE_SIZE, sample_scenes
from blip2_bench.minibench.vocab import NOVEL_COLOURS, NOVEL_SHAPES, PLURALS, TRAIN_SHAPES

SMALL = Sizes(vqa_images=6, questions_per_image=4, coco_images=6, nocaps_per_domain=3, flickr_images=6)
NOVEL_WORDS = {*NOVEL_SHAPES, *(PLURALS[s] for s in NOVEL_SHAPES), *NOVEL_COLOURS}


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_minibench(tmp_path_factory.mktemp("mb") / "data", seed=0, sizes=SMALL)


def test_same_seed_same_bytes_other_seed_other_data(bench: Path, tmp_path: Path) -> None:
    again = make_minibench(tmp_path / "again", seed=0, sizes=SMALL)
    assert _digest(again) == _digest(bench)
    other = make_minibench(tmp_path / "other", seed=1, sizes=SMALL)
    assert _digest(other) != _digest(bench)
    assert plan(0, SMALL).signatures() != plan(1, SMALL).signatures()


def test_rebuilt_only_when_stamp_differs(bench: Path, tmp_path: Path) -> None:
    root = make_minibench(tmp_path / "d", seed=0, sizes=SMALL)
    marker = root / "val2014" / "marker"
    marker.write_text("x")
    make_minibench(root, seed=0, sizes=SMALL)
    assert marker.exists()  # up to date: kept
    make_minibench(root, seed=2, sizes=SMALL)
    assert not marker.exists()  # another seed: rebuilt
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep")
    with pytest.raises(ValueError, match="refusing"):
        make_minibench(foreign, seed=0, sizes=SMALL)
    assert (foreign / "mine.txt").read_text() == "keep"


def test_vqav2_through_the_official_loader(bench: Path) -> None:
    samples = load_official(
        bench / "v2_OpenEnded_mscoco_val2014_questions.json",
        bench / "v2_mscoco_val2014_annotations.json",
        bench / "val2014",
    )
    assert len(samples) == SMALL.vqa_images * SMALL.questions_per_image
    assert {s.answer_type for s in samples} == {"yes/no", "number", "other"}
    assert all(len(s.answers or ()) == 10 for s in samples)
    assert all(s.question_id // 1000 == s.image_id for s in samples)
    assert any(len(set(s.answers or ())) > 1 for s in samples)  # annotators disagree
    image = Image.open(samples[0].image.path)
    assert image.size == (IMAGE_SIZE, IMAGE_SIZE) and image.format == "JPEG"
    # The majority answer scores (near) 100; a plausible wrong answer earns partial credit on some questions.
    p = plan(0, SMALL)
    majority = {s.image_id * 1000 + k: m for s in p.vqa for k, m in enumerate(s.majorities)}
    wrong = {s.image_id * 1000 + k: q.confusions[0] for s in p.vqa for k, q in enumerate(s.questions)}
    for answers, low, high in ((majority, 95.0, 100.0), (wrong, 1.0, 40.0)):
        records = [
            VqaRecord(s.question_id, answers[s.question_id], s.answers or (), s.answer_type, s.question_type)
            for s in samples
        ]
        assert low <= vqa_scores(records)["accuracy"] <= high


def test_coco_karpathy_both_forms_through_the_loaders(bench: Path) -> None:
    lavis = load_lavis_karpathy(bench / "coco_karpathy_test.json", bench / "coco_karpathy_test_gt.json", bench)
    karpathy = load_karpathy_dataset(bench / "dataset_coco.json", "test", bench)
    assert [s.image_id for s in lavis] == [s.image_id for s in karpathy]
    assert len(lavis) == SMALL.coco_images
    assert all(len(s.references or ()) == 5 for s in lavis)
    assert all(Path(s.image.path).is_file() for s in lavis)


def test_nocaps_domains_and_novel_objects(bench: Path) -> None:
    samples = load_nocaps(bench / "nocaps_val_4500_captions.json", bench / "val", with_captions=True)
    assert len(samples) == 3 * SMALL.nocaps_per_domain
    assert all(len(s.references or ()) == 10 and Path(s.image.path).is_file() for s in samples)
    by_id = {item.image_id: item.scene for item in plan(0, SMALL).nocaps}
    for s in samples:
        shapes = by_id[s.image_id].shapes()
        assert s.domain == by_id[s.image_id].domain
        novel = shapes & set(NOVEL_SHAPES)
        if s.domain == "in-domain":
            assert not novel
        elif s.domain == "out-domain":
            assert shapes <= set(NOVEL_SHAPES)
        else:
            assert novel and shapes & set(TRAIN_SHAPES)


def test_flickr30k_both_forms_through_the_loaders(bench: Path) -> None:
    lavis = load_lavis_list(bench / "flickr30k_test.json", bench, "flickr30k")
    karpathy = load_karpathy(bench / "dataset_flickr30k.json", bench, "test", dataset="flickr30k")
    assert sorted(lavis.image_ids) == sorted(karpathy.image_ids)
    assert len(lavis.image_ids) == SMALL.flickr_images and len(lavis.texts) == 5 * SMALL.flickr_images
    assert all(Path(src.path).is_file() for src in lavis.images)


def test_training_split_is_disjoint_from_every_test_set() -> None:
    test = plan(0, Sizes()).signatures()
    train = training_scenes(3000, seed=0)
    assert len({s.signature() for s in train}) == 3000
    assert not test & {s.signature() for s in train}


def test_novel_objects_and_attributes_never_reach_training() -> None:
    train = training_scenes(2000, seed=0)
    assert not {w for s in train for g in s.groups for w in (g.shape, g.colour)} & NOVEL_WORDS
    rng = random.Random(0)
    texts = [t for ex in generator_examples(train[:500], "opt", rng) for t in (ex.prompt, ex.target)]
    texts += retrieval_texts(train[:500], rng)
    assert not {w for t in texts for w in t.replace("?", " ").split()} & NOVEL_WORDS
    # ...while the out-domain test captions do name them (otherwise the split would test nothing).
    out = [i for i in plan(0, SMALL).nocaps if i.scene.domain == "out-domain"]
    assert all(set(" ".join(i.captions).lower().replace(".", " ").split()) & NOVEL_WORDS for i in out)


def test_captions_fit_the_protocol_lengths() -> None:
    # min 8 / max 30 new tokens (one token per word for the shipped tokenizers, plus the stop token).
    for scene in sample_scenes(random.Random(3), 400, "in-domain") + sample_scenes(random.Random(4), 100, "out-domain"):
        for text in clean_captions(scene, 10):
            assert 8 <= len(text.split()) <= 29, text
    assert caption(scene, 0).endswith("background")
