"""Time sources for the stand-ins: the real clock, or one a test moves by hand."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]
"""Seconds since the epoch, as ``time.time`` gives them."""


def system_clock() -> float:
    return time.time()


class FakeClock:
    """A clock that stands still until ``advance`` is called (rate limits, callback ages)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds
