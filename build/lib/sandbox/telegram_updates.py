"""The bot's pending updates: ids, offsets, and long polling with Telegram's conflicts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Update types Telegram sends when allowed_updates is empty or never given.
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)


class PollTerminated(Exception):
    """A waiting getUpdates was cut short; ``str(e)`` is the reason Telegram gives."""


@dataclass
class _Poll:
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    terminated_by: str | None = None


class UpdateQueue:
    def __init__(
        self, first_update_id: int = 100_000_001, on_change: Callable[[], None] = lambda: None
    ) -> None:
        self.on_change = on_change  # told when a getUpdates starts waiting
        self.pending: list[dict[str, Any]] = []
        self.allowed: frozenset[str] = DEFAULT_UPDATE_TYPES
        self._next_id = first_update_id
        self._poll: _Poll | None = None
        self._listeners: set[asyncio.Event] = set()

    @property
    def poll_waiting(self) -> bool:
        """Whether a getUpdates is waiting (long polling) right now."""
        return self._poll is not None

    def push(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Queue a new update; None if the bot's allowed_updates excludes its kind."""
        if kind not in self.allowed:
            return None
        update = {"update_id": self._next_id, kind: payload}
        self._next_id += 1
        self.pending.append(update)
        if self._poll is not None:
            self._poll.wakeup.set()
        for listener in self._listeners:
            listener.set()
        return update

    def set_allowed(self, kinds: list[str] | None) -> None:
        """As Telegram: None keeps the previous setting, an empty list means the default."""
        if kinds is None:
            return
        self.allowed = frozenset(kinds) if kinds else DEFAULT_UPDATE_TYPES

    def confirm(self, offset: int) -> None:
        """Forget updates before ``offset``; a negative offset keeps only the last -offset."""
        if offset > 0:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        elif offset < 0:
            self.pending = self.pending[offset:]

    def drop_all(self) -> None:
        self.pending.clear()

    def terminate_poll(self, reason: str) -> None:
        if self._poll is not None:
            self._poll.terminated_by = reason
            self._poll.wakeup.set()
            self._poll = None

    async def poll(self, offset: int, limit: int, wait: float) -> list[dict[str, Any]]:
        """What getUpdates answers; waits up to ``wait`` seconds when nothing is pending.

        A getUpdates that arrives while another one waits ends the waiting one with 409,
        as Telegram does ("terminated by other getUpdates request").
        """
        self.terminate_poll(
            "terminated by other getUpdates request; make sure that only one bot instance "
            "is running"
        )
        self.confirm(offset)
        if self.pending or wait <= 0:
            return self.pending[:limit]
        poll = self._poll = _Poll()
        self.on_change()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(poll.wakeup.wait(), wait)
        finally:
            if self._poll is poll:
                self._poll = None
        if poll.terminated_by is not None:
            raise PollTerminated(poll.terminated_by)
        return self.pending[:limit]

    async def wait_pending(self) -> dict[str, Any]:
        """The oldest pending update, waiting for one if needed (for webhook delivery)."""
        listener = asyncio.Event()
        self._listeners.add(listener)
        try:
            while not self.pending:
                listener.clear()
                await listener.wait()
            return self.pending[0]
        finally:
            self._listeners.discard(listener)

    def remove(self, update_id: int) -> None:
        self.pending = [u for u in self.pending if u["update_id"] != update_id]
