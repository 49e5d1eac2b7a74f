"""Webhook mode: pending updates are POSTed to the bot's URL, in order, until it says 2xx."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from sandbox.clock import Clock, system_clock
from sandbox.telegram_updates import UpdateQueue

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True)
class Delivery:
    update_id: int
    at: float
    status: int | None  # None when the request failed before an answer
    error: str | None = None


@dataclass
class WebhookDeliverer:
    queue: UpdateQueue
    clock: Clock = system_clock
    retry_delay: float = 1.0
    timeout: float = 10.0
    url: str = ""
    secret_token: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    on_change: Callable[[], None] = lambda: None  # told after every delivery attempt
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return bool(self.url)

    async def start(self, url: str, secret_token: str | None) -> None:
        await self.stop()
        self.url, self.secret_token = url, secret_token
        self.last_error_date = self.last_error_message = None
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self.url, self.secret_token = "", None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        headers = {SECRET_HEADER: self.secret_token} if self.secret_token else {}
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                update = await self.queue.wait_pending()
                status, error = await self._post(session, update, headers)
                self.deliveries.append(Delivery(update["update_id"], self.clock(), status, error))
                if error is None:
                    self.queue.remove(update["update_id"])
                else:
                    self.last_error_date = int(self.clock())
                    self.last_error_message = error
                self.on_change()
                if error is not None:
                    await asyncio.sleep(self.retry_delay)

    async def _post(
        self, session: aiohttp.ClientSession, update: dict[str, object], headers: dict[str, str]
    ) -> tuple[int | None, str | None]:
        try:
            async with session.post(self.url, json=update, headers=headers) as resp:
                await resp.read()
                if 200 <= resp.status < 300:
                    return resp.status, None
                return resp.status, f"Wrong response from the webhook: {resp.status} {resp.reason}"
        except (aiohttp.ClientError, TimeoutError) as e:
            return None, f"Connection failed: {type(e).__name__}"
