"""A deterministic sliding-window limiter: at most ``limit`` events per ``window`` seconds."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field

from sandbox.clock import Clock, system_clock


@dataclass
class SlidingWindow:
    limit: int
    window: float
    clock: Clock = system_clock
    _hits: dict[Hashable, deque[float]] = field(default_factory=dict, repr=False)

    def retry_after(self, key: Hashable = None) -> float:
        """Seconds until one more event under ``key`` is allowed; 0.0 when it is allowed now."""
        hits = self._prune(key)
        if len(hits) < self.limit:
            return 0.0
        return max(hits[0] + self.window - self.clock(), 0.0)

    def record(self, key: Hashable = None) -> None:
        self._prune(key).append(self.clock())

    def reset(self) -> None:
        self._hits.clear()

    def _prune(self, key: Hashable) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        horizon = self.clock() - self.window
        while hits and hits[0] <= horizon:
            hits.popleft()
        return hits


def whole_seconds(delay: float) -> int:
    """How Telegram and most APIs report a wait: whole seconds, at least one."""
    return max(1, math.ceil(delay))
