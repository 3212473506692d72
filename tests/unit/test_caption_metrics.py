"""Caption metrics against pycocoevalcap's COCOEvalCap run on the same files (the official code)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

import blip2_bench.metrics.captions as captions
from blip2_bench.data.coco_captions import read_coco_caption_file
from blip2_bench.data.nocaps import domains_of
from blip2_bench.demo.caption_fixture import CaptionFixture, write_caption_fixture
from blip2_bench.metrics import meteor, spice
from blip2_bench.metrics.captions import DOMAINS, METRIC_KEYS, evaluate_by_domain, evaluate_captions, tokenize
from blip2_bench.scoring.captions import coco_caption_scores
from tests.unit._caption_reference import official_eval, unseen_predictions

TOL = 1e-9


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> CaptionFixture:
    return write_caption_fixture(tmp_path_factory.mktemp("captions"), n_coco=12, n_nocaps=14, seed=3)


def _as_results(preds: dict[int, str]) -> list[dict]:
    return [{"image_id": i, "caption": c} for i, c in preds.items()]


def _close(ours: dict[str, float], ref: dict[str, float]) -> None:
    assert set(ours) == set(ref), (sorted(ours), sorted(ref))
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=TOL, rel=0), key


@pytest.mark.java
def test_coco_scores_and_per_image_scores_equal_cocoevalcap(data):
    gt = read_coco_caption_file(data.coco_gt, "gt")
    preds = unseen_predictions(gt.refs, seed=11)
    assert "" in preds.values() and "..." in preds.values()  # edge cases are in the set
    ref_scores, ref_per_image = official_eval(data.coco_gt, _as_results(preds))
    out = coco_caption_scores(gt.refs, preds, spice="auto")
    # Keys and scale exactly COCOEvalCap.eval's (SPICE is reported as not computed here).
    assert [k for k in out if k in ref_scores] == list(METRIC_KEYS) == list(ref_scores)
    assert set(out) == {*METRIC_KEYS, "per_image", "not_computed"} and "SPICE" in out["not_computed"]
    _close({k: out[k] for k in METRIC_KEYS}, ref_scores)
    assert set(out["per_image"]) == {str(i) for i in ref_per_image}
    for image_id, ref in ref_per_image.items():
        _close(out["per_image"][str(image_id)], ref)
    # Corpus BLEU and METEOR are not means of the per-image values (as in pycocoevalcap).
    per_bleu = np.mean([v["Bleu_4"] for v in out["per_image"].values()])
    assert abs(per_bleu - out["Bleu_4"]) > 1e-6


@pytest.mark.java
def test_partial_set_equals_cocoevalcap_on_the_predicted_images(data):
    gt = read_coco_caption_file(data.coco_gt, "gt")
    preds = unseen_predictions(gt.refs, seed=5)
    subset = {i: preds[i] for i in list(preds)[::2]}
    ref_scores, ref_per_image = official_eval(data.coco_gt, _as_results(subset), image_ids=list(subset))
    ours = evaluate_captions(gt.refs, subset, spice="off")
    _close(ours.scores, ref_scores)
    assert ours.not_computed == {"SPICE": "disabled (spice=off)"}
    for image_id in subset:
        _close(ours.per_image[image_id], ref_per_image[image_id])


@pytest.mark.java
def test_one_tokenizer_run_gives_the_tokens_of_cocoevalcaps_two(data):
    gt = read_coco_caption_file(data.coco_gt, "gt")
    preds = unseen_predictions(gt.refs, seed=2)
    gts, res, sanitized = tokenize(gt.refs, preds)
    tokenizer = PTBTokenizer()
    assert gts == tokenizer.tokenize({i: [{"caption": c} for c in refs] for i, refs in gt.refs.items()})
    assert res == tokenizer.tokenize({i: [{"caption": c}] for i, c in preds.items()})
    assert sanitized == 0 and "" in {c for refs in gts.values() for c in refs}  # the punctuation-only reference


@pytest.mark.java
def test_one_jvm_per_evaluation_once_meteor_runs(data, monkeypatch):
    gt = read_coco_caption_file(data.coco_gt, "gt")
    preds = unseen_predictions(gt.refs, seed=4)
    evaluate_captions(gt.refs, preds, spice="off")  # METEOR's process now runs
    launched: list[list[str]] = []
    real_run = subprocess.run

    def counting_run(cmd, *args, **kwargs):
        launched.append(cmd)
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(captions.subprocess, "run", counting_run)
    evaluate_by_domain(gt.refs, preds, {i: DOMAINS[k % 3] for k, i in enumerate(gt.refs)}, spice="off")
    assert len(launched) == 1 and "edu.stanford.nlp.process.PTBTokenizer" in launched[0]


@pytest.fixture(scope="module")
def nocaps_reference(data):
    gt = read_coco_caption_file(data.nocaps_val, "nocaps")
    domains = domains_of(gt)
    assert set(domains.values()) == set(DOMAINS)
    preds = unseen_predictions(gt.refs, seed=7)
    entire = official_eval(data.nocaps_val, _as_results(preds))
    alone = {
        d: official_eval(data.nocaps_val, _as_results(preds), [i for i in gt.refs if domains[i] == d]) for d in DOMAINS
    }
    return gt, domains, preds, entire, alone


@pytest.mark.java
def test_nocaps_per_domain_df_scores_each_domain_alone(nocaps_reference):
    gt, domains, preds, entire, alone = nocaps_reference
    ours = evaluate_by_domain(gt.refs, preds, domains, df="per-domain")
    _close(ours.domains["entire"], entire[0])
    for domain in DOMAINS:
        _close(ours.domains[domain], alone[domain][0])
        for image_id in (i for i in gt.refs if domains[i] == domain):
            _close(ours.per_image[image_id], alone[domain][1][image_id])
    assert ours.to_json()["df"] == "per-domain"


@pytest.mark.java
def test_nocaps_global_df_averages_one_pass_cider_per_domain(nocaps_reference):
    gt, domains, preds, entire, alone = nocaps_reference
    ours = evaluate_by_domain(gt.refs, preds, domains, df="global")
    _close(ours.domains["entire"], entire[0])
    for domain in DOMAINS:
        members = [i for i in gt.refs if domains[i] == domain]
        expected = {**alone[domain][0], "CIDEr": float(np.mean([entire[1][i]["CIDEr"] for i in members]))}
        _close(ours.domains[domain], expected)
        # The conventions differ where it matters: document frequencies.
        assert abs(ours.domains[domain]["CIDEr"] - alone[domain][0]["CIDEr"]) > 1e-6
    for image_id, ref in entire[1].items():
        _close(ours.per_image[image_id], ref)
    assert list(ours.to_json())[:5] == [*DOMAINS, "entire", "df"]


@pytest.mark.java
def test_line_breaks_the_tokenizer_splits_on_become_spaces(data):
    gt = read_coco_caption_file(data.coco_gt, "gt")
    preds = unseen_predictions(gt.refs, seed=9)
    first = next(iter(preds))
    broken = {**preds, first: "a dog\ron a\u2028couch"}
    ours = evaluate_captions(gt.refs, broken, spice="off")
    ref_scores, _ = official_eval(data.coco_gt, _as_results({**preds, first: "a dog on a couch"}))
    _close(ours.scores, ref_scores)
    assert "line-break" in ours.notes[0]


def test_java_missing_is_a_clear_error(data, monkeypatch):
    monkeypatch.setenv("PATH", str(data.root))  # no java there
    with pytest.raises(spice.JavaNotFoundError, match="Java not found on PATH"):
        evaluate_captions({1: ["a dog"]}, {1: "a dog"})


@pytest.mark.java
def test_tokenizer_subprocess_failure_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(captions.ptbtokenizer, "STANFORD_CORENLP_3_4_1_JAR", "no-such.jar")
    with pytest.raises(spice.ScorerFailedError, match="PTB tokenizer failed"):
        tokenize({1: ["a dog"]}, {1: "a dog"})


@pytest.mark.java
def test_meteor_subprocess_failure_is_a_clear_error(monkeypatch):
    meteor.shutdown()
    monkeypatch.setattr(meteor, "JAR", "no-such.jar")  # a METEOR whose JVM dies at once
    with pytest.raises(spice.ScorerFailedError, match="METEOR failed.*METEOR said: .*no-such.jar"):
        evaluate_captions({1: ["a dog on a couch"]}, {1: "a dog"}, spice="off")
    assert meteor.process_id() is None  # the next evaluation starts a fresh process
    monkeypatch.undo()
    assert evaluate_captions({1: ["a dog on a couch"]}, {1: "a dog"}, spice="off").scores["METEOR"] > 0


# --- SPICE: detection only (its CoreNLP jars cannot be had on these machines) -----------------
def _fake_spice_dir(tmp_path: Path, jars: tuple[str, ...]) -> Path:
    for name in jars:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"not a jar")
    return tmp_path


def test_spice_missing_jars_are_named_and_never_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv(spice.SPICE_DIR_ENV, str(_fake_spice_dir(tmp_path, ("spice-1.0.jar",))))
    status = spice.spice_status("auto")
    assert not status.available
    assert "lib/stanford-corenlp-3.6.0.jar" in status.reason and "never downloads" in status.reason


def test_spice_of_the_installed_pycocoevalcap_is_not_computed_here(monkeypatch):
    monkeypatch.delenv(spice.SPICE_DIR_ENV, raising=False)
    status = spice.spice_status("auto")
    assert not status.available and str(spice.spice_dir()).endswith("pycocoevalcap/spice")
    assert "stanford-corenlp-3.6.0-models.jar" in status.reason


@pytest.mark.parametrize(
    "version, opts, available, words",
    [
        ("17.0.15", "", False, ["Java 17.0.15", "Java 8 or 11", spice.SPICE_JVM_OPTS_ENV]),
        ("17.0.15", "--add-opens java.base/java.lang=ALL-UNNAMED", True, []),
        ("11.0.2", "", True, []),
        ("1.8.0_312", "", True, []),
    ],
)
def test_spice_needs_a_java_that_runs_it(tmp_path, monkeypatch, version, opts, available, words):
    monkeypatch.setenv(spice.SPICE_DIR_ENV, str(_fake_spice_dir(tmp_path, spice.SPICE_JARS)))
    monkeypatch.setenv(spice.SPICE_JVM_OPTS_ENV, opts)
    monkeypatch.setattr(spice.shutil, "which", lambda name: "/usr/bin/java")
    monkeypatch.setattr(spice, "java_version", lambda java: version)
    status = spice.spice_status("auto")
    assert status.available is available and all(w in status.reason for w in words)
    assert status.jvm_opts == tuple(opts.split())


def test_spice_off_and_java_missing(tmp_path, monkeypatch):
    monkeypatch.setenv(spice.SPICE_DIR_ENV, str(_fake_spice_dir(tmp_path, spice.SPICE_JARS)))
    assert spice.spice_status("off").reason == "disabled (spice=off)"
    monkeypatch.setenv("PATH", str(tmp_path))
    assert spice.spice_status("auto").reason == "Java not found on PATH"


def test_java_major_versions():
    assert [spice.java_major(v) for v in ("1.8.0_312", "11.0.2", "17.0.15", "21")] == [8, 11, 17, 21]


@pytest.mark.java
def test_spice_subprocess_failure_is_a_clear_error(tmp_path):
    folder = _fake_spice_dir(tmp_path, spice.SPICE_JARS)
    status = spice.SpiceStatus(True, "", "java", (), folder)
    with pytest.raises(spice.ScorerFailedError, match="SPICE failed .*--spice off"):
        spice.run_spice({1: ["a dog"]}, {1: ["a dog"]}, status)


@pytest.mark.java
def test_an_evaluation_never_tries_to_download_spice(data, monkeypatch):
    import pycocoevalcap.spice.get_stanford_models as downloader

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download Stanford CoreNLP")

    monkeypatch.setattr(downloader, "urlretrieve", no_download)
    gt = read_coco_caption_file(data.coco_gt, "gt")
    out = evaluate_captions(gt.refs, unseen_predictions(gt.refs, seed=1))
    assert "SPICE" not in out.scores and "jars not found" in out.not_computed["SPICE"]
