"""Long polling: every update is appended, raw, to `telegram.updates` before it is confirmed to
Telegram (and before anything acts on it).

Exactly one poller per bot: Telegram answers 409 to a getUpdates that another one cut short. An
instance starts as a candidate, probing with short polls; it becomes active after a stretch of
`probe` seconds of polling that nobody cut short. A candidate cut short goes standby and probes
again after `standby_retry` seconds; the active poller, cut short by a probe, simply polls again,
so a second instance started by mistake waits instead of fighting.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from typing import Any

import aiohttp

from base.publisher import KafkaPublisher, PublishFailed
from base.redact import mask_url
from schemas.codec import encode
from schemas.telegram_envelope import NotAnUpdate, envelope_key, telegram_envelope

log = logging.getLogger("okrate.notifier.polling")


class Conflict(Exception):
    pass


class BotApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: float | None = None):
        super().__init__(f"{status} {description}")
        self.status = status
        self.retry_after = retry_after


class Poller:
    def __init__(self, api_url: str, token: str, publisher: KafkaPublisher, topic: str, *,
                 long_poll: int = 25, probe: float = 2.0, standby_retry: float = 30.0):
        self.base = f"{api_url.rstrip('/')}/bot{token}"
        self.publisher = publisher
        self.topic = topic
        self.long_poll = long_poll
        self.probe = probe
        self.standby_retry = standby_retry
        self.active = asyncio.Event()
        self.offset: int | None = None
        self.appended = 0
        self.conflicts = 0

    async def _call(self, session: aiohttp.ClientSession, method: str, payload: dict[str, Any],
                    timeout: float) -> Any:
        url = f"{self.base}/{method}"
        async with session.post(url, json=payload, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            try:
                body = await resp.json(content_type=None)
            except (json.JSONDecodeError, aiohttp.ContentTypeError):
                raise BotApiError(resp.status, f"not JSON from {mask_url(url)}") from None
        if isinstance(body, dict) and body.get("ok"):
            return body.get("result")
        description = str(body.get("description", "")) if isinstance(body, dict) else ""
        status = int(body.get("error_code", resp.status)) if isinstance(body, dict) else resp.status
        if status == 409 and "webhook" not in description.lower():
            raise Conflict(description)
        params = body.get("parameters") if isinstance(body, dict) else None
        retry_after = params.get("retry_after") if isinstance(params, dict) else None
        raise BotApiError(status, description, retry_after)

    async def run(self) -> None:
        async with aiohttp.ClientSession() as session:
            try:
                # polling and a webhook exclude each other: polling mode means no webhook
                await self._call(session, "deleteWebhook", {"drop_pending_updates": False}, 30)
            except (BotApiError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("deleteWebhook failed: %s", exc)
            streak_since: float | None = None
            failures = 0
            while True:
                wait = self.long_poll if self.active.is_set() else max(1, round(self.probe))
                started = time.monotonic()
                payload: dict[str, Any] = {"timeout": wait}
                if self.offset is not None:
                    payload["offset"] = self.offset
                try:
                    updates = await self._call(session, "getUpdates", payload, wait + 15)
                    failures = 0
                except Conflict:
                    self.conflicts += 1
                    streak_since = None
                    if self.active.is_set():
                        log.warning("getUpdates was cut short by another poller; polling on (this one is active)")
                        await asyncio.sleep(0.1)
                    else:
                        pause = self.standby_retry * random.uniform(0.8, 1.2)
                        log.warning("another instance polls this bot: standby, probing again in %.0fs", pause)
                        await asyncio.sleep(pause)
                    continue
                except BotApiError as exc:
                    if exc.status == 401:
                        raise
                    failures += 1
                    pause = float(exc.retry_after) if exc.retry_after else min(30.0, 2.0 ** failures)
                    log.warning("getUpdates failed: %s; again in %.0fs", exc, pause)
                    await asyncio.sleep(pause)
                    continue
                except (aiohttp.ClientError, TimeoutError) as exc:
                    failures += 1
                    pause = min(30.0, 2.0 ** failures)
                    log.warning("getUpdates failed: %s; again in %.0fs", mask_url(str(exc)), pause)
                    await asyncio.sleep(pause)
                    continue
                if updates and not await self._append(updates):
                    await asyncio.sleep(1.0)
                    continue  # not confirmed: Telegram sends them again
                if not self.active.is_set():
                    streak_since = streak_since or started
                    if time.monotonic() - streak_since >= self.probe:
                        log.info("polling Telegram: this instance is active")
                        self.active.set()

    async def _append(self, updates: list[dict[str, Any]]) -> bool:
        """Appends the updates to Kafka (acks=all); True when all are stored."""
        writes = []
        last = None
        for update in updates:
            body = json.dumps(update, ensure_ascii=False, separators=(",", ":")).encode()
            try:
                envelope = telegram_envelope(body, "polling")
            except NotAnUpdate:
                log.warning("skipping a getUpdates item that is not an update")
                continue
            last = envelope.update_id
            writes.append(self.publisher.publish(self.topic, envelope_key(envelope), encode(envelope), timeout=30))
        try:
            await asyncio.gather(*writes)
        except PublishFailed as exc:
            log.error("could not append updates to Kafka: %s", exc)
            return False
        self.appended += len(writes)
        ids = [u.get("update_id") for u in updates if isinstance(u.get("update_id"), int)]
        if ids:
            self.offset = max(ids) + 1
        elif last is not None:
            self.offset = last + 1
        return True
