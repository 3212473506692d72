"""Scorer subprocesses (the Java ones) that die with the Python process that started them.

A JVM started with plain ``subprocess`` outlives a SIGKILLed parent for as long as its stdin
stays open, which is forever when a forked child (a DataLoader worker, a launcher) inherited
the pipe. On Linux the child asks the kernel for SIGKILL when its parent goes
(``prctl(PR_SET_PDEATHSIG)``). The kernel sends it when the *thread* that started the child
exits, so a long-lived child must be started from a thread that lives as long as the process
(see meteor.py).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl()


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` giving the child SIGKILL when this process dies (Linux); None elsewhere.

    Everything it calls is bound beforehand: between fork and exec the child must not import
    or take locks another thread may hold.
    """
    if _prctl is None:
        return None
    prctl, parent, kill, exit_now, getppid = _prctl, os.getpid(), int(signal.SIGKILL), os._exit, os.getppid

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if getppid() != parent:  # the parent died before prctl took effect
            exit_now(1)

    return preexec
