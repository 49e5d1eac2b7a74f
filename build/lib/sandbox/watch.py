"""Letting a test wait until a stand-in has seen what it expects (no sleeping and hoping)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass
class Watchers:
    _events: set[asyncio.Event] = field(default_factory=set)

    def notify(self) -> None:
        """Something changed: re-check every waiting predicate."""
        for event in self._events:
            event.set()

    async def wait_until(self, predicate: Callable[[], T], within: float = 5.0) -> T:
        """``predicate()``'s first truthy value, re-checked after each change; TimeoutError
        after ``within`` seconds of real time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not (value := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {within} s")
            event = asyncio.Event()
            self._events.add(event)
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass
            finally:
                self._events.discard(event)
        return value
