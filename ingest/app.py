"""The ingest: Okdesk's webhook (and Telegram's, in webhook mode) appended raw to Kafka.

It answers 200 only after the broker acknowledged the write, 503 with Retry-After when it did not
in time, and writes nothing for a request it refuses.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass

from aiohttp import web
from prometheus_client.metrics import Counter

from base.publisher import Delivery, KafkaPublisher, PublishFailed
from base.settings import Settings
from ingest.auth import AuthMethod, authenticate_telegram, authenticate_webhook
from ingest.metrics import IngestMetrics
from ingest.openapi import openapi_document
from ingest.webhook_body import NotAWebhook, summarise_webhook
from schemas.codec import EncodeError, encode
from schemas.records import utc_now
from schemas.records.raw import OkdeskWebhookEnvelope
from schemas.telegram_envelope import NotAnUpdate, envelope_key, telegram_envelope
from schemas.topics import OKDESK_EVENTS, TELEGRAM_UPDATES

log = logging.getLogger("okrate.ingest")

BODY_READ_TIMEOUT_S = 10.0
RETRY_AFTER_S = "5"
KEPT_HEADERS = ("x-request-id", "x-okdesk-event", "x-okdesk-delivery")


@dataclass(frozen=True)
class Outcomes:
    """One source's request counters, resolved once (a `labels()` lookup takes a lock)."""

    accepted: Counter
    rejected: Counter
    unauthorized: Counter
    unavailable: Counter

    @classmethod
    def of(cls, metrics: IngestMetrics, source: str) -> Outcomes:
        return cls(*(metrics.requests.labels(source, outcome) for outcome in
                     ("accepted", "rejected", "unauthorized", "unavailable")))


@dataclass(frozen=True)
class Prepared:
    """What every request needs and no request changes, computed when the app is made."""

    okdesk_topic: str
    telegram_topic: str
    publish_timeout_s: float
    okdesk: Outcomes
    telegram: Outcomes


PUBLISHER = web.AppKey("publisher", KafkaPublisher)
SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", IngestMetrics)
PREPARED = web.AppKey("prepared", Prepared)


class DeliveryIds:
    """Random (version 4) UUIDs, as text; the randomness is drawn from the OS 4,096 ids at a time
    instead of one system call per request."""

    BATCH = 4096

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def next(self) -> str:
        if self._at >= len(self._pool):
            self._pool, self._at = os.urandom(16 * self.BATCH), 0
        h = self._pool[self._at:self._at + 16].hex()
        self._at += 16
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


    def forget(self) -> None:
        self._pool, self._at = b"", 0


DELIVERY_IDS = DeliveryIds()
os.register_at_fork(after_in_child=DELIVERY_IDS.forget)  # a forked child must not repeat its parent's ids


def _clean(value: str | None) -> str | None:
    """Header values and JSON strings may carry bytes that are not UTF-8 (lone surrogates):
    the envelope keeps a readable copy; the body itself is stored byte for byte."""
    if value is None or value.isascii():
        return value
    return value.encode("utf-8", "replace").decode("utf-8")


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


async def _read_body(request: web.Request, max_bytes: int) -> bytes | web.Response:
    if request.content_length is not None and request.content_length > max_bytes:
        return _error(413, f"the body is larger than {max_bytes} bytes")
    try:
        if request.content.is_eof():  # the whole body came with the headers: nothing to wait for
            return await request.read()
        async with asyncio.timeout(BODY_READ_TIMEOUT_S):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"the body is larger than {max_bytes} bytes")
    except TimeoutError:
        return _error(408, "the body arrived too slowly")
    except ConnectionResetError:  # the client went away mid-body: nothing to store, nobody to answer
        return _error(400, "the connection closed before the whole body arrived")


async def _append(request: web.Request, topic: str, key: bytes, value: bytes, kind: str,
                  outcomes: Outcomes) -> web.Response:
    app = request.app
    started = time.perf_counter()
    try:
        delivery = await app[PUBLISHER].publish(topic, key, value, timeout=app[PREPARED].publish_timeout_s)
    except PublishFailed as exc:
        outcomes.unavailable.inc()
        log.warning("%s not stored, answered 503: %s", kind, exc)
        return _error(503, "the event store is unavailable; retry later", **{"Retry-After": RETRY_AFTER_S})
    app[METRICS].publish_seconds.observe(time.perf_counter() - started)
    outcomes.accepted.inc()
    return _accepted(delivery)


def _accepted(delivery: Delivery) -> web.Response:
    """What `json_response({"status": "accepted", "partition": ..., "offset": ...})` answers, byte
    for byte, without json.dumps and its encoder once a request."""
    return web.Response(body=b'{"status": "accepted", "partition": %d, "offset": %d}' % (delivery.partition, delivery.offset),
                        content_type="application/json", charset="utf-8")


async def okdesk_webhook(request: web.Request) -> web.Response:
    settings, prepared = request.app[SETTINGS], request.app[PREPARED]
    outcomes = prepared.okdesk
    body = await _read_body(request, settings.webhook_max_bytes)
    if isinstance(body, web.Response):
        outcomes.rejected.inc()
        return body
    headers = request.headers
    auth = authenticate_webhook(settings.webhook_secret, body, headers, lambda: request.query)
    if auth is None:
        outcomes.unauthorized.inc()
        return _error(401, "the signature or token is missing or wrong")
    try:
        summary = summarise_webhook(body)
    except NotAWebhook as exc:
        outcomes.rejected.inc()
        return _error(400, str(exc))
    envelope = OkdeskWebhookEnvelope(
        delivery_id=DELIVERY_IDS.next(),
        received_at=utc_now(),
        body=body,
        path=request.path,
        content_type=_clean(headers.get("Content-Type")),
        user_agent=_clean(headers.get("User-Agent")),
        auth=None if auth is AuthMethod.NONE else auth.value,
        remote_addr=request.remote,
        forwarded_for=_clean(headers.get("X-Forwarded-For")),
        issue_id=_clean(summary.issue_id),
        event_type=_clean(summary.event_type),
        headers={h: _clean(headers[h]) for h in KEPT_HEADERS if h in headers},
    )
    return await _append(request, prepared.okdesk_topic, summary.key.encode("utf-8", "replace"), encode(envelope),
                         "okdesk", outcomes)


async def webhook_ready(request: web.Request) -> web.Response:
    return web.json_response({"message": "Webhook endpoint is ready", "path": request.app[SETTINGS].webhook_path})


async def telegram_webhook(request: web.Request) -> web.Response:
    settings, prepared = request.app[SETTINGS], request.app[PREPARED]
    outcomes = prepared.telegram
    if not authenticate_telegram(settings.telegram_webhook_secret or "", request.headers):
        outcomes.unauthorized.inc()
        return _error(401, "wrong secret token")
    body = await _read_body(request, settings.webhook_max_bytes)
    if isinstance(body, web.Response):
        outcomes.rejected.inc()
        return body
    try:
        envelope = telegram_envelope(body, source="webhook")
        value = encode(envelope)
    except (NotAnUpdate, EncodeError) as exc:
        outcomes.rejected.inc()
        return _error(400, str(exc))
    return await _append(request, prepared.telegram_topic, envelope_key(envelope), value, "telegram", outcomes)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    if await request.app[PUBLISHER].broker_reachable():
        return web.json_response({"status": "ready"})
    return web.json_response({"status": "kafka unreachable"}, status=503)


async def openapi_view(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app[SETTINGS]))


async def metrics_view(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    metrics.queue_depth.set(request.app[PUBLISHER].queue_depth)
    return web.Response(body=metrics.render(), content_type="text/plain", charset="utf-8")


def create_app(settings: Settings, publisher: KafkaPublisher, metrics: IngestMetrics | None = None) -> web.Application:
    # client_max_size makes aiohttp refuse a larger body while reading it, without reading the rest.
    app = web.Application(client_max_size=settings.webhook_max_bytes)
    app[SETTINGS] = settings
    app[PUBLISHER] = publisher
    app[METRICS] = metrics = metrics or IngestMetrics()
    app[PREPARED] = Prepared(
        okdesk_topic=OKDESK_EVENTS.full_name(settings), telegram_topic=TELEGRAM_UPDATES.full_name(settings),
        publish_timeout_s=settings.ingest_publish_timeout.total_seconds(),
        okdesk=Outcomes.of(metrics, "okdesk"), telegram=Outcomes.of(metrics, "telegram"),
    )
    app.router.add_get(settings.webhook_path, webhook_ready)
    app.router.add_post(settings.webhook_path, okdesk_webhook)
    if settings.telegram_webhook_secret:
        app.router.add_post(settings.telegram_webhook_path, telegram_webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/openapi.json", openapi_view)
    return app
