"""The ingest against the real broker: what is accepted is in Kafka byte for byte; what is refused
leaves the topic unchanged."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from base.publisher import KafkaPublisher
from ingest.app import METRICS, create_app
from schemas.codec import decode
from schemas.records.raw import OkdeskWebhookEnvelope, TelegramUpdateEnvelope
from schemas.topics import OKDESK_EVENTS, TELEGRAM_UPDATES
from tests.kafka_helpers import count_messages, read_topic

SECRET = "s3cret-key"

SEED_BODY = json.dumps({
    "event": {"event_type": "issue.status_changed"},
    "issue": {"id": 1380, "title": "Принтер <не> печатает", "status": {"code": "resolved", "name": "Решена"},
              "old_status": {"code": "opened", "name": "Открыта"},
              "client": {"contact": {"id": 95}, "company": {"id": 147}}},
}, ensure_ascii=False).encode()

OKDESK_BODY = json.dumps({
    "event": {"event_type": "new_ticket_status", "old_status": {"code": "opened", "name": "Открыта"},
              "new_status": {"code": "completed", "name": "Решена"},
              "author": {"id": "3", "first_name": "Иван", "last_name": "Петров", "type": "employee"}},
    "issue": {"id": "153", "title": "Нет интернета", "status": {"code": "completed", "name": "Решена"},
              "client": {"contact": {"id": "95"}, "company": {"id": "147"}}},
}, ensure_ascii=False).encode()


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
async def ingest(settings_for, kafka_bootstrap):
    settings = settings_for(webhook_secret=SECRET, telegram_webhook_secret="tg-secret", webhook_max_bytes=64 * 1024)
    publisher = KafkaPublisher(kafka_bootstrap)
    async with TestClient(TestServer(create_app(settings, publisher))) as client:
        client.settings = settings
        yield client
    await publisher.close()


def _okdesk_topic(client) -> str:
    return OKDESK_EVENTS.full_name(client.settings)


async def test_get_answers_as_the_seed_specifies(ingest):
    response = await ingest.get("/okdesk-webhook")
    assert response.status == 200
    assert await response.json() == {"message": "Webhook endpoint is ready", "path": "/okdesk-webhook"}


@pytest.mark.parametrize(("body", "key"), [(SEED_BODY, b"1380"), (OKDESK_BODY, b"153")], ids=["seed", "okdesk"])
async def test_an_accepted_webhook_is_in_kafka_byte_for_byte(ingest, kafka_bootstrap, body, key):
    response = await ingest.post("/okdesk-webhook", data=body,
                                 headers={"X-Okdesk-Signature": sign(body), "Content-Type": "application/json; charset=utf-8"})
    assert response.status == 200, await response.text()
    [stored] = await asyncio.to_thread(read_topic, kafka_bootstrap, _okdesk_topic(ingest))
    assert stored.key == key
    envelope = decode(stored.value)
    assert isinstance(envelope, OkdeskWebhookEnvelope)
    assert envelope.body == body
    assert envelope.auth == "signature"
    assert envelope.path == "/okdesk-webhook"
    assert (await response.json())["offset"] == stored.offset


async def test_token_in_url_or_header_and_other_signature_header_pass(ingest, kafka_bootstrap):
    for kwargs in (
        {"params": {"token": SECRET}},
        {"headers": {"X-Webhook-Token": SECRET}},
        {"headers": {"X-Hub-Signature-256": sign(SEED_BODY)}},
        {"headers": {"X-Okdesk-Signature": sign(SEED_BODY).removeprefix("sha256=")}},
    ):
        response = await ingest.post("/okdesk-webhook", data=SEED_BODY, **kwargs)
        assert response.status == 200, kwargs
    assert await asyncio.to_thread(count_messages, kafka_bootstrap, _okdesk_topic(ingest)) == 4


@pytest.mark.parametrize("headers,params", [
    ({}, {}),
    ({"X-Okdesk-Signature": sign(SEED_BODY, "wrong")}, {}),
    ({"X-Okdesk-Signature": "sha256=zz"}, {}),
    ({"X-Webhook-Token": "wrong"}, {}),
    ({}, {"token": "wrong"}),
    ({"X-Webhook-Token": "sécret"}, {}),
], ids=["missing", "bad-signature", "garbage-signature", "wrong-token-header", "wrong-token-url", "non-ascii"])
async def test_unauthenticated_requests_are_401_and_write_nothing(ingest, kafka_bootstrap, headers, params):
    response = await ingest.post("/okdesk-webhook", data=SEED_BODY, headers=headers, params=params)
    assert response.status == 401
    assert "error" in await response.json()
    assert await asyncio.to_thread(count_messages, kafka_bootstrap, _okdesk_topic(ingest)) == 0


async def test_non_ascii_bytes_in_a_header_are_401_not_500(ingest):
    # aiohttp's client refuses non-latin-1 header values, so send raw bytes over a socket.
    reader, writer = await asyncio.open_connection(ingest.host, ingest.port)
    writer.write(b"POST /okdesk-webhook HTTP/1.1\r\nHost: x\r\nX-Okdesk-Signature: sha256=\xd1\x84\xff\r\n"
                 b"Content-Length: " + str(len(SEED_BODY)).encode() + b"\r\nConnection: close\r\n\r\n" + SEED_BODY)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    assert b" 401 " in status_line


async def test_a_client_gone_mid_body_is_refused_without_a_traceback(settings_for, kafka_bootstrap, caplog):
    # Served as `okrate ingest` serves it (aiohttp's test server cancels the handler instead).
    settings = settings_for(webhook_secret=SECRET)
    publisher = KafkaPublisher(kafka_bootstrap)
    app = create_app(settings, publisher)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    rejected = app[METRICS].requests.labels("okdesk", "rejected")
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /okdesk-webhook?token=" + SECRET.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: " + str(len(SEED_BODY)).encode() + b"\r\n\r\n" + SEED_BODY[:20])
        await writer.drain()
        for _ in range(200):  # until the handler waits for the rest of the body
            if _awaiting("_read_body"):
                break
            await asyncio.sleep(0.05)
        assert _awaiting("_read_body")
        writer.close()  # the rest never comes
        await writer.wait_closed()
        for _ in range(100):
            if rejected._value.get() == 1 or any(r.exc_info for r in caplog.records):
                break
            await asyncio.sleep(0.05)
    finally:
        await runner.cleanup()
        await publisher.close()
    assert not [r.getMessage() for r in caplog.records if r.exc_info], "a traceback for a client that went away"
    assert rejected._value.get() == 1
    assert await asyncio.to_thread(count_messages, kafka_bootstrap, OKDESK_EVENTS.full_name(settings)) == 0


def _awaiting(function: str) -> bool:
    """Whether a task of this loop is suspended inside `function` (its chain of awaits)."""
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        while coro is not None and hasattr(coro, "cr_code"):
            if coro.cr_code.co_name == function:
                return True
            coro = coro.cr_await
    return False


@pytest.mark.parametrize(("body", "status"), [
    (b"", 400), (b"not json", 400), (b"[1, 2]", 400), (b'"text"', 400), (b'{"foo": 1}', 400),
    (b'{"event": "x"}', 400), (b"\xff\xfe", 400), (b"[" * 60_000, 400),
], ids=["empty", "not-json", "array", "string", "no-event-or-issue", "event-not-object", "not-utf8", "deep"])
async def test_bodies_that_are_not_webhooks_are_400(ingest, kafka_bootstrap, body, status):
    response = await ingest.post("/okdesk-webhook", data=body, params={"token": SECRET})
    assert response.status == status
    assert "error" in await response.json()
    assert await asyncio.to_thread(count_messages, kafka_bootstrap, _okdesk_topic(ingest)) == 0


async def test_event_types_nothing_acts_on_are_still_stored(ingest, kafka_bootstrap):
    body = json.dumps({"event": {"event_type": "new_company"}, "company": {"id": "7", "name": "ООО"}}).encode()
    response = await ingest.post("/okdesk-webhook", data=body, params={"token": SECRET})
    assert response.status == 200
    [stored] = await asyncio.to_thread(read_topic, kafka_bootstrap, _okdesk_topic(ingest))
    assert stored.key == b"company:7"


async def test_oversized_body_is_413_without_reading_it(ingest, kafka_bootstrap):
    big = b'{"issue": {"id": 1}, "pad": "' + b"x" * (64 * 1024) + b'"}'
    response = await ingest.post("/okdesk-webhook", data=big, params={"token": SECRET})
    assert response.status == 413

    async def chunks():
        yield b'{"issue": {"id": 1}, "pad": "'
        for _ in range(200):
            yield b"x" * 1024

    response = await ingest.post("/okdesk-webhook", data=chunks(), params={"token": SECRET})
    assert response.status == 413
    assert await asyncio.to_thread(count_messages, kafka_bootstrap, _okdesk_topic(ingest)) == 0


async def test_other_methods_are_405(ingest):
    for method in ("PUT", "DELETE", "PATCH"):
        response = await ingest.request(method, "/okdesk-webhook")
        assert response.status == 405


async def test_a_slow_body_is_timed_out(ingest, monkeypatch, kafka_bootstrap):
    monkeypatch.setattr("ingest.app.BODY_READ_TIMEOUT_S", 0.5)

    async def trickle():
        yield b'{"issue": '
        await asyncio.sleep(2)
        yield b'{"id": 1}}'

    response = await ingest.post("/okdesk-webhook", data=trickle(), params={"token": SECRET})
    assert response.status == 408
    assert await asyncio.to_thread(count_messages, kafka_bootstrap, _okdesk_topic(ingest)) == 0


async def test_telegram_updates_need_the_secret_and_are_keyed_by_chat(ingest, kafka_bootstrap):
    update = {"update_id": 10, "callback_query": {"id": "q1", "from": {"id": 555, "is_bot": False, "first_name": "A"},
              "message": {"message_id": 3, "date": 0, "chat": {"id": 555, "type": "private"}}, "data": "r:x:4"}}
    body = json.dumps(update).encode()
    assert (await ingest.post("/telegram-webhook", data=body)).status == 401
    assert (await ingest.post("/telegram-webhook", data=body, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"})).status == 401
    response = await ingest.post("/telegram-webhook", data=body, headers={"X-Telegram-Bot-Api-Secret-Token": "tg-secret"})
    assert response.status == 200
    [stored] = await asyncio.to_thread(read_topic, kafka_bootstrap, TELEGRAM_UPDATES.full_name(ingest.settings))
    assert stored.key == b"555"
    envelope = decode(stored.value)
    assert isinstance(envelope, TelegramUpdateEnvelope)
    assert envelope.body == body and envelope.kind == "callback_query" and envelope.source == "webhook"


async def test_health_ready_and_metrics(ingest):
    assert (await ingest.get("/healthz")).status == 200
    assert (await ingest.get("/readyz")).status == 200
    await ingest.post("/okdesk-webhook", data=SEED_BODY, params={"token": SECRET})
    await ingest.post("/okdesk-webhook", data=SEED_BODY)
    text = await (await ingest.get("/metrics")).text()
    assert 'okrate_ingest_requests_total{outcome="accepted",source="okdesk"} 1.0' in text
    assert 'okrate_ingest_requests_total{outcome="unauthorized",source="okdesk"} 1.0' in text
    assert "okrate_ingest_publish_seconds_bucket" in text
