"""A child of `okrate run` ends with its supervisor, however the supervisor ends (okrate.lifeline)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from okrate.lifeline import SUPERVISOR_PID_ENV, end_with_supervisor, parent_gone


@pytest.mark.parametrize(("supervisor", "parent", "gone"), [
    (100, 100, False),  # still the supervisor's child
    (100, 1, True),  # re-parented to init
    (100, 57, True),  # re-parented to a subreaper (systemd --user, tini)
])
def test_a_child_knows_its_supervisor_is_gone_when_it_is_re_parented(supervisor, parent, gone):
    assert parent_gone(supervisor, parent) is gone


def test_a_process_not_started_by_the_supervisor_is_left_alone():
    sent = []
    assert end_with_supervisor({}, kill=lambda pid, sig: sent.append(sig)) is False
    assert sent == []


def test_a_child_whose_supervisor_died_before_it_started_stops_at_once(monkeypatch):
    from okrate import lifeline

    monkeypatch.setattr(lifeline, "_ask_kernel_for_sigterm", lambda: False)  # not on pytest itself
    sent = []
    environ = {SUPERVISOR_PID_ENV: str(os.getppid() + 100_000)}  # not our parent
    assert end_with_supervisor(environ, kill=lambda pid, sig: sent.append((pid, sig))) is True
    assert sent[0] == (os.getpid(), signal.SIGTERM)
    assert SUPERVISOR_PID_ENV not in environ  # the child's own children do not inherit it


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("kernel", [True, False], ids=["pdeathsig", "watch-only"])
def test_a_supervisor_killed_hard_takes_its_child_with_it(tmp_path, kernel):
    """A stand-in supervisor starts a child in a session of its own (as `okrate run` does), is
    killed with SIGKILL, and the child ends. `watch-only` is the path taken elsewhere than Linux."""
    child_code = textwrap.dedent(f"""
        import sys, time
        import okrate.lifeline as lifeline
        if not {kernel}:
            lifeline._ask_kernel_for_sigterm = lambda: False
        lifeline.WATCH_EVERY_S = 0.1
        lifeline.end_with_supervisor()
        print("ready", flush=True)
        time.sleep(120)
    """)
    supervisor_code = textwrap.dedent(f"""
        import os, subprocess, sys, time
        env = {{**os.environ, {SUPERVISOR_PID_ENV!r}: str(os.getpid())}}
        child = subprocess.Popen([sys.executable, "-c", {child_code!r}], env=env,
                                 start_new_session=True, stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline() == "ready\\n"
        print(child.pid, flush=True)
        time.sleep(120)
    """)
    supervisor = subprocess.Popen([sys.executable, "-c", supervisor_code], stdout=subprocess.PIPE, text=True,
                                  cwd=os.getcwd())
    child_pid = int(supervisor.stdout.readline())
    try:
        assert _alive(child_pid)
        supervisor.kill()
        supervisor.wait(10)
        deadline = time.monotonic() + 20
        while _alive(child_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child_pid), "the child outlived its supervisor"
    finally:
        if _alive(child_pid):
            os.kill(child_pid, signal.SIGKILL)
