"""Which issues the clock must look at next: an in-memory index of due times, per worker.

It is only a hint: a tick for an issue that has nothing due decides nothing, and the index is
rebuilt from the table after a rebalance, so a lost or extra entry costs one tick, never a
decision."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import datetime


class DueIndex:
    def __init__(self) -> None:
        self._heap: list[tuple[datetime, str]] = []
        self._next: dict[str, datetime] = {}

    def __len__(self) -> int:
        return len(self._next)

    def set(self, issue_id: str, times: Iterable[datetime]) -> None:
        """The issue's due times as its state now says (none: forget it)."""
        earliest = min(times, default=None)
        if earliest is None:
            self._next.pop(issue_id, None)
            return
        if self._next.get(issue_id) != earliest:
            self._next[issue_id] = earliest
            heapq.heappush(self._heap, (earliest, issue_id))

    def pop_due(self, now: datetime, limit: int = 1000) -> list[str]:
        """Issues due at `now`; each is forgotten until its state is seen again."""
        due: list[str] = []
        while self._heap and self._heap[0][0] <= now and len(due) < limit:
            at, issue_id = heapq.heappop(self._heap)
            if self._next.get(issue_id) == at:
                del self._next[issue_id]
                due.append(issue_id)
        return due

    def clear(self) -> None:
        self._heap.clear()
        self._next.clear()
