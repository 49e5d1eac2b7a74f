"""`okrate run`'s supervisor: okrate's services as one group of child processes.

A child that dies is reported and restarted with backoff; SIGTERM or SIGINT stops them all
gracefully (each child finishes what it accepted: the ingest flushes to Kafka before it exits).
A supervisor killed hard (SIGKILL, OOM) takes its children with it: see okrate.lifeline.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from okrate.lifeline import supervisor_env

log = logging.getLogger("okrate.run")

BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0
HEALTHY_AFTER_S = 60.0  # a child that ran this long starts its backoff afresh
STOP_TIMEOUT_S = 40.0


@dataclass
class Child:
    name: str
    args: list[str]
    env: Mapping[str, str] = field(default_factory=dict)
    restarts: int = 0
    process: asyncio.subprocess.Process | None = None


def next_backoff(current: float, ran_for: float) -> float:
    if ran_for >= HEALTHY_AFTER_S:
        return BACKOFF_START_S
    return min(BACKOFF_MAX_S, current * 2)


class Supervisor:
    def __init__(self, children: list[Child]):
        self.children = children
        self._stopping = asyncio.Event()

    async def _keep_running(self, child: Child) -> None:
        backoff = BACKOFF_START_S
        while not self._stopping.is_set():
            started = time.monotonic()
            child.process = await asyncio.create_subprocess_exec(
                *child.args, env={**os.environ, **child.env, **supervisor_env()}, stdin=asyncio.subprocess.DEVNULL,
                # A Ctrl-C reaches the supervisor, which stops the children in order; a supervisor
                # killed hard takes them with it all the same (okrate.lifeline).
                start_new_session=True,
            )
            log.info("%s started (pid %d)", child.name, child.process.pid)
            code = await child.process.wait()
            if self._stopping.is_set():
                log.info("%s stopped (exit %d)", child.name, code)
                return
            ran_for = time.monotonic() - started
            backoff = next_backoff(backoff, ran_for)
            child.restarts += 1
            log.error("%s exited with %d after %.0fs; restarting in %.0fs (restart %d)",
                      child.name, code, ran_for, backoff, child.restarts)
            try:
                await asyncio.wait_for(self._stopping.wait(), backoff)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping.set()
        running = [c for c in self.children if c.process is not None and c.process.returncode is None]
        for child in running:
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in running:
            try:
                await asyncio.wait_for(child.process.wait(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                log.error("%s did not stop within %.0fs: killing it", child.name, STOP_TIMEOUT_S)
                child.process.kill()
                await child.process.wait()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(self.stop()))
        await asyncio.gather(*(self._keep_running(c) for c in self.children))


def okrate_child(name: str, *args: str, env: Mapping[str, str] | None = None) -> Child:
    return Child(name, [sys.executable, "-m", "okrate.cli", *args], dict(env or {}))
