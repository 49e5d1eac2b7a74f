"""Telegram's pace: at most TELEGRAM_MAX_PER_SECOND messages in total and
TELEGRAM_MAX_PER_CHAT_PER_SECOND to one chat (about 20 a minute to a group); work waits in
per-chat queues, one worker per busy chat, so a busy chat or a chat waiting out a 429 holds up
nobody else.

Telegram counts the requests that *arrive* within sliding windows, and a request arrives at some
moment between the one it was let go and the one its answer came back. So, for the total,
aiolimiter's leaky bucket (one token: no bursts) spaces the calls evenly, and a window guard lets
a call start only while fewer than N calls were *answered* within the last N/rate seconds (a call
in flight counts as answered "now" until it is); one chat's next send waits for the interval
counted from the answer to its previous one. Whatever jitter delays a request on its way, the
server cannot see more than allowed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiolimiter import AsyncLimiter

log = logging.getLogger("okrate.notifier.pace")

MARGIN = 0.005  # seconds added to each window and interval
GROUP_PER_MINUTE = 20


class Pacer:
    def __init__(self, per_second: float, per_chat_per_second: float, *, idle_exit: float = 5.0):
        self._global = AsyncLimiter(1, 1.0 / per_second)
        self.window_calls = max(1, math.floor(per_second))
        self.window = self.window_calls / per_second + MARGIN
        self._recent: deque[list[float]] = deque()  # slots in the window, by answer time
        self.chat_interval = 1.0 / per_chat_per_second + MARGIN
        self.group_interval = max(self.chat_interval, 60.0 / GROUP_PER_MINUTE + MARGIN)
        self._last_send: dict[int, float] = {}
        self._queues: dict[int, asyncio.Queue] = {}
        self._workers: dict[int, asyncio.Task] = {}
        self.idle_exit = max(idle_exit, self.group_interval * 2)
        self.retry_after_count = 0

    def submit(self, chat_id: int, job: Callable[[], Awaitable[Any]]) -> asyncio.Future:
        """Runs `job` in the chat's queue, after the chat's earlier jobs; the future is its result."""
        future = asyncio.get_running_loop().create_future()
        queue = self._queues.get(chat_id)
        if queue is None:
            queue = self._queues[chat_id] = asyncio.Queue()
        queue.put_nowait((job, future))
        if chat_id not in self._workers:
            self._workers[chat_id] = asyncio.create_task(self._work(chat_id, queue), name=f"chat-{chat_id}")
        return future

    async def permit(self, chat_id: int, *, send: bool) -> list[float]:
        """Wait for the right to make one call to this chat (a send also counts per chat), and
        hand back a slot to `release` when the call has been answered. Called by the chat's
        worker only, so one chat's calls never race each other."""
        if send and (last := self._last_send.get(chat_id)) is not None:
            interval = self.group_interval if chat_id < 0 else self.chat_interval
            if (wait := last + interval - time.monotonic()) > 0:
                await asyncio.sleep(wait)
        await self._global.acquire()
        slot = [math.inf]  # the time the call was answered; until then it counts as in the window
        while True:
            now = time.monotonic()
            while self._recent and self._recent[0][0] + self.window <= now:
                self._recent.popleft()
            if len(self._recent) < self.window_calls:
                self._recent.append(slot)
                break
            oldest = min(s[0] for s in self._recent)
            await asyncio.sleep(oldest + self.window - now if oldest < math.inf else 0.01)
        if send:
            self._last_send[chat_id] = math.inf
            slot.append(chat_id)
        return slot

    def release(self, slot: list[float]) -> None:
        """The call was answered: its request arrived before now, so the window and the chat's
        spacing are counted from now (whatever jitter delayed it on the way)."""
        slot[0] = time.monotonic()
        if len(slot) > 1:
            self._last_send[int(slot[1])] = slot[0]
        self._recent = deque(sorted(self._recent, key=lambda s: s[0]))

    async def wait_chat(self, chat_id: int) -> None:
        """Until this chat may get its next message (called from the chat's own worker, so that
        what is queued meanwhile can still join the message: see `notifier.telegram.alerts`)."""
        interval = self.group_interval if chat_id < 0 else self.chat_interval
        last = self._last_send.get(chat_id)
        if last is not None and (wait := last + interval - time.monotonic()) > 0:
            await asyncio.sleep(wait)

    async def wait_retry_after(self, seconds: float) -> None:
        self.retry_after_count += 1
        await asyncio.sleep(seconds)

    @property
    def queued(self) -> int:
        return sum(q.qsize() for q in self._queues.values())

    async def _work(self, chat_id: int, queue: asyncio.Queue) -> None:
        try:
            while True:
                try:
                    job, future = await asyncio.wait_for(queue.get(), self.idle_exit)
                except TimeoutError:
                    if queue.empty():
                        return
                    continue
                if future.cancelled():
                    continue
                try:
                    future.set_result(await job())
                except asyncio.CancelledError:
                    future.cancel()
                    raise
                except Exception as exc:
                    log.exception("chat %s: a job failed", chat_id)
                    future.set_exception(exc)
        finally:
            if self._workers.get(chat_id) is asyncio.current_task():
                del self._workers[chat_id]
                if queue.empty():
                    self._queues.pop(chat_id, None)
                    self._last_send.pop(chat_id, None)  # idle for longer than any interval

    async def close(self) -> None:
        for task in list(self._workers.values()):
            task.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
