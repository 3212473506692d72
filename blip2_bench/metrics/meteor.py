"""METEOR 1.5 exactly as pycocoevalcap 1.2's Meteor runs it, in one JVM that dies with this process.

pycocoevalcap's ``Meteor`` starts ``java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en -norm`` in
the jar's folder and talks to it line by line: one ``SCORE`` line per image (answered with that
image's statistics), then one ``EVAL`` line (answered with each image's score, then the corpus
score). ``MeteorProcess`` sends the same bytes in the same order and reads the answers the same
way, so scores are bit-identical. What differs:

* On Linux the JVM is killed when this process dies (jvm.py): pycocoevalcap's keeps running,
  holding its 2 GB heap, while any forked child still holds its stdin.
* One long-lived worker thread starts the JVM and does all the talking: the kernel's
  parent-death signal follows the thread that started the child, and scoring callers get a
  Future, so METEOR (whose work is in Java) runs while BLEU, ROUGE-L and CIDEr run in theirs.
* SCORE lines are written all at once by a helper thread (same bytes, same order, answered one by
  one as before), so the JVM never idles waiting for a Python thread to get the GIL back.
* The JVM starts once per Python process (loading the paraphrase table takes ~8 s), can be
  started ahead of time (``start``), and is restarted after a failure.
* Its stderr goes to a temporary file, not a pipe, so a chatty JVM can never block on it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TypeVar

from pycocoevalcap.meteor import meteor as _official

from .jvm import die_with_parent
from .spice import ScorerFailedError

T = TypeVar("T")
JAR = _official.METEOR_JAR
# Meteor.__init__ runs in the folder of meteor.py, which holds the jar and its data/.
METEOR_DIR = Path(os.path.dirname(os.path.abspath(_official.__file__)))

MeteorResult = tuple[float, list[float], list[str]]
"""(corpus score, per-image scores, per-image SCORE statistics lines)."""


def meteor_command(java: str) -> list[str]:
    """Meteor.__init__'s command line, with the `java` it would find on PATH."""
    return [java, "-jar", "-Xmx2G", JAR, "-", "-", "-stdio", "-l", "en", "-norm"]


class MeteorProcess:
    """One METEOR JVM, spoken to as Meteor.compute_score does; used by one thread at a time."""

    def __init__(self, java: str) -> None:
        self._stderr = tempfile.TemporaryFile(prefix="blip2-bench-meteor-")
        self._closed = False
        try:
            self.proc = subprocess.Popen(
                meteor_command(java),
                cwd=METEOR_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                preexec_fn=die_with_parent(),
            )
        except OSError as exc:
            self._stderr.close()
            raise ScorerFailedError(f"cannot start METEOR: {exc}") from None

    def alive(self) -> bool:
        return not self._closed and self.proc.poll() is None

    def score(self, gts: Mapping[int, Sequence[str]], res: Mapping[int, Sequence[str]]) -> MeteorResult:
        """Meteor.compute_score(gts, res), plus the SCORE statistics it sends in its EVAL line."""
        assert gts.keys() == res.keys()
        lines = []
        for i in gts:
            assert len(res[i]) == 1
            # Meteor._stat: strip the field separator from the hypothesis, then one SCORE line.
            hypothesis = res[i][0].replace("|||", "").replace("  ", " ")
            lines.append(" ||| ".join(("SCORE", " ||| ".join(gts[i]), hypothesis)) + "\n")
        stats = [line.decode().strip() for line in self._pipelined("".join(lines).encode(), len(lines))]
        self._send("EVAL" + "".join(f" ||| {stat}" for stat in stats))
        scores = [float(self._answer().strip()) for _ in range(len(gts))]
        return float(self._answer().strip()), scores, stats

    def _pipelined(self, data: bytes, n_answers: int) -> list[bytes]:
        """Send `data` from a second thread while reading `n_answers` lines here.

        METEOR reads and answers SCORE lines one at a time, so the answers are those of sending the
        lines one by one (as Meteor._stat does); but METEOR never waits for this process, which
        matters when other scorers hold the GIL: one round trip per line would wait for it each time.
        """
        assert self.proc.stdin is not None
        stdin, failed = self.proc.stdin, []

        def send() -> None:
            try:
                stdin.write(data)
                stdin.flush()
            except (OSError, ValueError) as exc:  # a dead JVM: broken pipe
                failed.append(exc)

        writer = threading.Thread(target=send, name="blip2-bench-meteor-send", daemon=True)
        writer.start()
        try:
            answers = [self._answer() for _ in range(n_answers)]
        except BaseException:
            self.proc.kill()  # unblocks the writer
            raise
        finally:
            writer.join()
        if failed:
            raise failed[0]
        return answers

    def _send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{line}\n".encode())
        self.proc.stdin.flush()

    def _answer(self) -> bytes:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise EOFError("METEOR closed its output")
        return line

    def close(self) -> str:
        """Kill the JVM; what it wrote to stderr (the reason, when it failed)."""
        if self._closed:
            return ""
        self._closed = True
        self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):  # unflushed bytes for a dead JVM: a broken pipe
                if stream is not None:
                    stream.close()
        self._stderr.seek(0)
        said = self._stderr.read().decode(errors="replace").strip()[-600:]
        self._stderr.close()
        return said


class _Worker:
    """The thread that owns the METEOR process: it starts it and runs every job on it, in order."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], object], Future]] = queue.SimpleQueue()
        self.meteor: MeteorProcess | None = None
        threading.Thread(target=self._loop, name="blip2-bench-meteor", daemon=True).start()

    def submit(self, job: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((job, future))
        return future

    def _loop(self) -> None:
        while True:
            job, future = self._jobs.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job())
                except Exception as exc:  # handed to the caller
                    future.set_exception(exc)

    def ensure(self, java: str) -> MeteorProcess:
        if self.meteor is None or not self.meteor.alive():
            self.drop()
            self.meteor = MeteorProcess(java)
        return self.meteor

    def score(self, java: str, gts: Mapping[int, Sequence[str]], res: Mapping[int, Sequence[str]]) -> MeteorResult:
        meteor = self.ensure(java)
        try:
            return meteor.score(gts, res)
        except (OSError, ValueError, EOFError) as exc:  # a dead JVM: broken pipe, EOF, or garbage
            self.meteor = None
            said = meteor.close()
            raise ScorerFailedError(f"METEOR failed: {exc!r}" + (f"; METEOR said: {said}" if said else "")) from None

    def drop(self) -> None:
        meteor, self.meteor = self.meteor, None
        if meteor is not None:
            meteor.close()


_worker: _Worker | None = None
_worker_guard = threading.Lock()


def _get_worker() -> _Worker:
    global _worker
    with _worker_guard:
        if _worker is None:
            _worker = _Worker()
        return _worker


def submit(java: str, gts: Mapping[int, Sequence[str]], res: Mapping[int, Sequence[str]]) -> Future[MeteorResult]:
    """Score on the shared METEOR process (started if needed); ScorerFailedError from .result()."""
    worker = _get_worker()
    return worker.submit(lambda: worker.score(java, gts, res))


def start(java: str) -> None:
    """Start the JVM now, without waiting: a later `submit` finds it loaded. A failure to start
    is not reported here; the next `submit` tries again and reports it."""
    worker = _get_worker()
    worker.submit(lambda: worker.ensure(java))


def process_id() -> int | None:
    """The running JVM's pid (for tests and diagnostics), or None."""
    meteor = _worker.meteor if _worker is not None else None
    return meteor.proc.pid if meteor is not None and meteor.alive() else None


@atexit.register
def shutdown(timeout: float = 5.0) -> None:
    """Stop the JVM (the next `submit` starts a new one); killed outright if the worker is busy."""
    worker = _worker
    if worker is None:
        return
    try:
        worker.submit(worker.drop).result(timeout)
    except FutureTimeout:
        meteor = worker.meteor
        if meteor is not None:
            meteor.proc.kill()


def _forget_after_fork() -> None:
    # A forked child has no worker thread and must not talk to its parent's JVM: it starts its own.
    global _worker, _worker_guard
    _worker, _worker_guard = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
