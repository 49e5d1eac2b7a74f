"""A child of `okrate run` ends with its supervisor, however the supervisor ends.

The supervisor starts its children in sessions of their own (a Ctrl-C reaches only the
supervisor, which stops them in order), so a `kill -9` of the supervisor used to leave them
running, holding their ports. Now the supervisor names itself in `OKRATE_SUPERVISOR_PID` and
each child, at its start:
- on Linux asks the kernel for SIGTERM when its parent dies (`prctl(PR_SET_PDEATHSIG)`);
- everywhere watches its parent's pid once a second, and sends itself SIGTERM when the
  parent is gone (elsewhere than Linux this is the only signal);
- checks once at start that the parent is still the supervisor (it may have died between the
  fork and the prctl);
- and if its graceful stop has not ended it `grace_s` after the parent's death, kills itself.

SIGTERM, not SIGKILL: the child stops as when the supervisor stops it (the ingest flushes what
it accepted to Kafka).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, MutableMapping

log = logging.getLogger("okrate.lifeline")

SUPERVISOR_PID_ENV = "OKRATE_SUPERVISOR_PID"
PR_SET_PDEATHSIG = 1
WATCH_EVERY_S = 1.0
GRACE_S = 45.0  # a little more than the supervisor's own STOP_TIMEOUT_S


def supervisor_env() -> dict[str, str]:
    """What the supervisor adds to each child's environment."""
    return {SUPERVISOR_PID_ENV: str(os.getpid())}


def parent_gone(supervisor_pid: int, parent_pid: int) -> bool:
    """Re-parented (to init, or to a subreaper): the supervisor is gone."""
    return parent_pid != supervisor_pid


def _ask_kernel_for_sigterm() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(supervisor_pid: int, kernel_signals: bool, grace_s: float,
           kill: Callable[[int, int], None]) -> None:
    while not parent_gone(supervisor_pid, os.getppid()):
        time.sleep(WATCH_EVERY_S)
    log.warning("the supervisor (pid %d) is gone: stopping", supervisor_pid)
    if not kernel_signals:
        kill(os.getpid(), signal.SIGTERM)
    time.sleep(grace_s)
    log.error("still running %.0fs after the supervisor died: killing myself", grace_s)
    kill(os.getpid(), signal.SIGKILL)


def end_with_supervisor(environ: MutableMapping[str, str] = os.environ, grace_s: float = GRACE_S,
                        kill: Callable[[int, int], None] = os.kill) -> bool:
    """Called first thing in a child: True when it now ends with its supervisor. The variable is
    taken out of the environment, so that the child's own children do not mistake it for theirs."""
    value = environ.pop(SUPERVISOR_PID_ENV, None)
    if not value:
        return False
    supervisor_pid = int(value)
    kernel_signals = _ask_kernel_for_sigterm()
    if parent_gone(supervisor_pid, os.getppid()):  # died before the prctl took effect
        kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=_watch, args=(supervisor_pid, kernel_signals, grace_s, kill),
                     name="okrate-lifeline", daemon=True).start()
    return True
