"""METEOR through our own process wrapper: pycocoevalcap's command and bytes, and scores in parallel."""

from __future__ import annotations

import shutil
import subprocess
import threading
import types
from pathlib import Path

import pytest
from pycocoevalcap.meteor import meteor as official

import blip2_bench.metrics.captions as captions
from blip2_bench.metrics import meteor
from blip2_bench.metrics.captions import score_tokenized
from tests.unit._caption_reference import _shared_meteor

pytestmark = pytest.mark.java

# Tokenized-looking captions that stress the line protocol: the field separator in a hypothesis
# (stripped) and in a reference (not), double spaces, empty strings, non-ASCII, a long line,
# references counts from 1 to 7, a perfect match, and ids out of order.
TRICKY_GTS = {
    5: ["a dog ||| on a couch", "a dog on a couch", "a  dog lying on a red couch"],
    2: ["", "two cats"],
    9: ["café au lait on a table", "一 只 猫 在 桌子 上", "a cup of coffee"],
    1: ["the " * 60 + "end", "a very long sentence"],
    7: [f"a man riding a bike number {k}" for k in range(7)],
    3: ["a red bus on the street"],
    4: ["people on a beach", "a crowd at the beach"],
}
TRICKY_RES = {
    5: ["a dog ||| on a  couch"],
    2: [""],
    9: ["café on a table"],
    1: ["the " * 40 + "end"],
    7: ["a man riding a bike"],
    3: ["a red bus on the street"],
    4: ["a    beach"],
}


def test_meteor_runs_pycocoevalcaps_command_in_its_folder(monkeypatch):
    seen: dict = {}
    idle = types.SimpleNamespace(close=lambda: None)

    def capture(cmd, **kwargs):  # a process that is never started (Meteor.__del__ stops it)
        seen.update(cmd=cmd, cwd=kwargs["cwd"])
        return types.SimpleNamespace(stdin=idle, kill=lambda: None, wait=lambda: None)

    monkeypatch.setattr(official, "subprocess", types.SimpleNamespace(Popen=capture, PIPE=subprocess.PIPE))
    official.Meteor()
    java = shutil.which("java")
    assert seen["cmd"][0] == "java" and meteor.meteor_command(java) == [java, *seen["cmd"][1:]]
    assert Path(seen["cwd"]) == meteor.METEOR_DIR


def test_scores_and_statistics_are_pycocoevalcaps_bit_for_bit():
    reference = _shared_meteor()
    expected = reference.compute_score(TRICKY_GTS, TRICKY_RES)
    expected_stats = [reference._stat(TRICKY_RES[i][0], TRICKY_GTS[i]) for i in TRICKY_GTS]
    score, scores, stats = meteor.submit(shutil.which("java"), TRICKY_GTS, TRICKY_RES).result()
    assert (score, scores) == expected and stats == expected_stats


def test_parallel_scores_are_the_serial_ones_bit_for_bit():
    ids = list(TRICKY_GTS)
    parallel = score_tokenized(TRICKY_GTS, TRICKY_RES, ids, parallel=True)
    serial = score_tokenized(TRICKY_GTS, TRICKY_RES, ids, parallel=False)
    assert parallel.scores == serial.scores and list(parallel.scores) == list(captions.METRIC_KEYS)
    assert parallel.per_image == serial.per_image and parallel.stats == serial.stats
    assert serial.scores["METEOR"] == _shared_meteor().compute_score(TRICKY_GTS, TRICKY_RES)[0]


@pytest.mark.parametrize("scorers", captions.SCORERS)
def test_the_python_scorers_do_not_wait_for_meteor(monkeypatch, scorers):
    # Hold the METEOR worker until CIDEr (the last Python scorer) starts: a scorer that waited for
    # METEOR would only see the gate time out.
    gate, opened_by_cider = threading.Event(), []
    worker = meteor._get_worker()
    held = worker.submit(lambda: gate.wait(timeout=5))

    def opening(score):
        opened_by_cider.append(not held.done())
        gate.set()
        return score

    class GateCider(captions.Cider):
        def compute_score(self, gts, res):
            return opening(super().compute_score(gts, res))

    numpy_cider = captions.cider_d
    monkeypatch.setattr(captions, "Cider", GateCider)
    monkeypatch.setattr(captions, "cider_d", lambda table: opening(numpy_cider(table)))
    score_tokenized(TRICKY_GTS, TRICKY_RES, list(TRICKY_GTS), scorers=scorers)
    assert opened_by_cider == [True] and held.result() is True


def test_the_jvm_outlives_the_thread_that_first_asked_for_it():
    # Linux sends the parent-death signal when the *thread* that started the child exits.
    meteor.shutdown()
    java = shutil.which("java")
    first: list = []
    asker = threading.Thread(target=lambda: first.append(meteor.submit(java, TRICKY_GTS, TRICKY_RES).result()))
    asker.start()
    asker.join()
    pid = meteor.process_id()
    assert pid is not None
    assert meteor.submit(java, TRICKY_GTS, TRICKY_RES).result() == first[0]
    assert meteor.process_id() == pid  # the same JVM, not a restarted one
