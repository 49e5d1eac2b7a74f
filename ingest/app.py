"""The ingest: Okdesk's webhook (and Telegram's, in webhook mode) appended raw to Kafka.

It answers 200 only after the broker acknowledged the write, 503 with Retry-After when it did not
in time, and writes nothing for a request it refuses.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from aiohttp import web

from ingest.auth import authenticate_telegram, authenticate_webhook
from ingest.metrics import IngestMetrics
from ingest.openapi import openapi_document
from ingest.publisher import KafkaPublisher, PublishFailed
from ingest.webhook_body import NotAWebhook, summarise_webhook
from okrate.settings import Settings
from schemas.codec import EncodeError, encode
from schemas.records import utc_now
from schemas.records.raw import OkdeskWebhookEnvelope
from schemas.telegram_envelope import NotAnUpdate, envelope_key, telegram_envelope
from schemas.topics import OKDESK_EVENTS, TELEGRAM_UPDATES

log = logging.getLogger("okrate.ingest")

BODY_READ_TIMEOUT_S = 10.0
RETRY_AFTER_S = "5"
KEPT_HEADERS = ("x-request-id", "x-okdesk-event", "x-okdesk-delivery")

PUBLISHER = web.AppKey("publisher", KafkaPublisher)
SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", IngestMetrics)


def _clean(value: str | None) -> str | None:
    """Header values and JSON strings may carry bytes that are not UTF-8 (lone surrogates):
    the envelope keeps a readable copy; the body itself is stored byte for byte."""
    if value is None:
        return None
    return value.encode("utf-8", "replace").decode("utf-8")


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


async def _read_body(request: web.Request, max_bytes: int) -> bytes | web.Response:
    if request.content_length is not None and request.content_length > max_bytes:
        return _error(413, f"the body is larger than {max_bytes} bytes")
    try:
        return await asyncio.wait_for(request.read(), BODY_READ_TIMEOUT_S)
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"the body is larger than {max_bytes} bytes")
    except TimeoutError:
        return _error(408, "the body arrived too slowly")


async def _append(request: web.Request, topic: str, key: bytes, value: bytes, kind: str) -> web.Response:
    settings, metrics = request.app[SETTINGS], request.app[METRICS]
    started = time.perf_counter()
    try:
        delivery = await request.app[PUBLISHER].publish(
            topic, key, value, timeout=settings.ingest_publish_timeout.total_seconds()
        )
    except PublishFailed as exc:
        metrics.requests.labels(kind, "unavailable").inc()
        log.warning("%s not stored, answered 503: %s", kind, exc)
        return _error(503, "the event store is unavailable; retry later", **{"Retry-After": RETRY_AFTER_S})
    metrics.publish_seconds.observe(time.perf_counter() - started)
    metrics.requests.labels(kind, "accepted").inc()
    return web.json_response({"status": "accepted", "partition": delivery.partition, "offset": delivery.offset})


async def okdesk_webhook(request: web.Request) -> web.Response:
    settings, metrics = request.app[SETTINGS], request.app[METRICS]
    body = await _read_body(request, settings.webhook_max_bytes)
    if isinstance(body, web.Response):
        metrics.requests.labels("okdesk", "rejected").inc()
        return body
    auth = authenticate_webhook(settings.webhook_secret, body, request.headers, request.query)
    if auth is None:
        metrics.requests.labels("okdesk", "unauthorized").inc()
        return _error(401, "the signature or token is missing or wrong")
    try:
        summary = summarise_webhook(body)
    except NotAWebhook as exc:
        metrics.requests.labels("okdesk", "rejected").inc()
        return _error(400, str(exc))
    envelope = OkdeskWebhookEnvelope(
        delivery_id=str(uuid.uuid4()),
        received_at=utc_now(),
        body=body,
        path=request.path,
        content_type=_clean(request.headers.get("Content-Type")),
        user_agent=_clean(request.headers.get("User-Agent")),
        auth=None if auth.value == "none" else auth.value,
        remote_addr=request.remote,
        forwarded_for=_clean(request.headers.get("X-Forwarded-For")),
        issue_id=_clean(summary.issue_id),
        event_type=_clean(summary.event_type),
        headers={h: _clean(request.headers[h]) for h in KEPT_HEADERS if h in request.headers},
    )
    topic = OKDESK_EVENTS.full_name(settings)
    return await _append(request, topic, summary.key.encode("utf-8", "replace"), encode(envelope), "okdesk")


async def webhook_ready(request: web.Request) -> web.Response:
    return web.json_response({"message": "Webhook endpoint is ready", "path": request.app[SETTINGS].webhook_path})


async def telegram_webhook(request: web.Request) -> web.Response:
    settings, metrics = request.app[SETTINGS], request.app[METRICS]
    if not authenticate_telegram(settings.telegram_webhook_secret or "", request.headers):
        metrics.requests.labels("telegram", "unauthorized").inc()
        return _error(401, "wrong secret token")
    body = await _read_body(request, settings.webhook_max_bytes)
    if isinstance(body, web.Response):
        metrics.requests.labels("telegram", "rejected").inc()
        return body
    try:
        envelope = telegram_envelope(body, source="webhook")
        value = encode(envelope)
    except (NotAnUpdate, EncodeError) as exc:
        metrics.requests.labels("telegram", "rejected").inc()
        return _error(400, str(exc))
    topic = TELEGRAM_UPDATES.full_name(settings)
    return await _append(request, topic, envelope_key(envelope), value, "telegram")


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
    app[METRICS] = metrics or IngestMetrics()
    app.router.add_get(settings.webhook_path, webhook_ready)
    app.router.add_post(settings.webhook_path, okdesk_webhook)
    if settings.telegram_webhook_secret:
        app.router.add_post(settings.telegram_webhook_path, telegram_webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/openapi.json", openapi_view)
    return app
