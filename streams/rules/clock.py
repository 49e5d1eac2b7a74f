"""The streams' clock for reminders and expiries: event time, not the wall clock.

It is the latest event time seen on the worker's inputs; only while the inputs are idle does the
wall clock move it on (live operation, when nothing arrives). A reprocess of old events therefore
reminds and expires by the events' own times.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

IDLE_AFTER = timedelta(seconds=1)


class StreamClock:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic, wall: Callable[[], datetime] | None = None):
        self._monotonic = monotonic
        self._latest: datetime | None = None
        self._seen_at = 0.0
        self._wall = wall

    def observe(self, event_time: datetime) -> None:
        if self._latest is None or event_time > self._latest:
            self._latest = event_time
        self._seen_at = self._monotonic()

    def now(self) -> datetime | None:
        """None until the first event: a worker that has seen nothing decides nothing."""
        if self._latest is None:
            return None
        idle = timedelta(seconds=self._monotonic() - self._seen_at)
        return self._latest + idle if idle >= IDLE_AFTER else self._latest
