"""The scorers' JVMs die with a SIGKILLed Python process, even while a forked child holds their pipes.

Each test starts a Python process that gets a Java scorer busy, forks a child that keeps the
JVM's pipes open (as a DataLoader worker or a launcher does; pycocoevalcap's JVM then never
sees end of input), and prints that child's pid. The test finds the JVM among the process's
children in /proc, SIGKILLs the process and waits for the JVM to go.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.java,
    pytest.mark.skipif(shutil.which("java") is None, reason="needs a Java runtime"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's"),
]
REPO = Path(__file__).resolve().parents[2]

_HOLD_PIPES = """
holder = os.fork()  # inherits every pipe to the JVM, as a DataLoader worker would
if holder == 0:
    time.sleep(120)
    os._exit(0)
print(holder, flush=True)
time.sleep(120)
"""

METEOR_BUSY = """
import os, threading, time
from blip2_bench.metrics import meteor
from blip2_bench.metrics.spice import find_java

java = find_java()
meteor.submit(java, {0: ["a dog on a couch"]}, {0: ["a dog"]}).result()  # the JVM is up
words = "a man dog two people riding on the red bike street table plate".split()
gts = {i: [" ".join(words[(i + k) % 13 :] + words[: k + 3]) for k in range(5)] for i in range(20000)}
res = {i: [" ".join(words[i % 7 :])] for i in range(20000)}
meteor.submit(java, gts, res)  # busy when killed
"""

TOKENIZER_BUSY = """
import os, threading, time
from pathlib import Path
from blip2_bench.metrics.captions import tokenize

refs = {i: [f"A dog, number {i}, sits on the couch (in a room)!"] * 5 for i in range(60000)}
threading.Thread(target=tokenize, args=(refs, {}), daemon=True).start()


def has_child():
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "stat").read_text().rsplit(")", 1)[1].split()[1] == str(os.getpid()):
                return True
        except OSError:
            pass
    return False


while not has_child():  # until the tokenizer JVM runs
    time.sleep(0.02)
"""


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(pid: int, marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == str(pid) and marker.encode() in cmdline:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")  # a zombie has died (PID 1 may never reap it)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _kill_and_expect_gone(parent: subprocess.Popen, child: int, what: str) -> None:
    """SIGKILL `parent` and wait (5 s at most) for its `child` to die with it."""
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(child), f"{what} outlived its SIGKILLed parent"


@pytest.mark.parametrize(
    "script, marker",
    [(METEOR_BUSY, "meteor-1.5.jar"), (TOKENIZER_BUSY, "edu.stanford.nlp.process.PTBTokenizer")],
    ids=["meteor", "ptb-tokenizer"],
)
def test_the_java_scorer_dies_with_its_killed_parent(script, marker):
    code = textwrap.dedent(script) + textwrap.dedent(_HOLD_PIPES)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    holder, jvms = None, []
    try:
        line = parent.stdout.readline()  # printed once the scorer is busy
        assert line.strip().isdigit(), f"the scoring process failed (exit {parent.wait()})"
        holder = int(line)
        jvms = _children(parent.pid, marker)
        assert len(jvms) == 1, jvms
        _kill_and_expect_gone(parent, jvms[0], f"the {marker} JVM")
    finally:
        for pid in [parent.pid, *([holder] if holder else []), *jvms]:
            _kill(pid)  # only what this test started
        parent.wait()


def test_spice_dies_with_its_killed_parent(tmp_path):
    # SPICE's jar and models cannot be had offline: a stand-in "java" that sleeps, started by
    # run_spice exactly as the real one would be, so the same parent-death wiring is tested.
    fake_java = tmp_path / "fake-spice-java"
    fake_java.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(120)\n")
    fake_java.chmod(0o755)
    code = textwrap.dedent(
        f"""
        import threading
        from pathlib import Path
        from blip2_bench.metrics import spice

        status = spice.SpiceStatus(True, "", {str(fake_java)!r}, (), Path({str(tmp_path)!r}))
        threading.Thread(target=spice.run_spice, args=({{1: ["a dog"]}}, {{1: ["a dog"]}}, status)).start()
        print("started", flush=True)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    children: list[int] = []
    try:
        assert parent.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 10
        while not (children := _children(parent.pid, "fake-spice-java")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(children) == 1, children
        _kill_and_expect_gone(parent, children[0], "SPICE")
    finally:
        for pid in [parent.pid, *children]:
            _kill(pid)
        parent.wait()
