"""The ingest's pure parts: authentication, what counts as a webhook, and masking in logs."""

from __future__ import annotations

import logging
import uuid

import pytest
from aiohttp import web

from base.logs import RedactingFilter
from base.publisher import Delivery
from base.redact import mask_headers, mask_url
from ingest.app import DeliveryIds, _accepted
from ingest.auth import AuthMethod, authenticate_telegram, authenticate_webhook, body_signature
from ingest.service import MaskingAccessLogger
from ingest.webhook_body import NotAWebhook, summarise_webhook


def test_signature_token_and_no_secret():
    body = b'{"issue": {"id": 1}}'
    sig = body_signature("k", body)
    assert authenticate_webhook("k", body, {"X-Okdesk-Signature": sig}, dict) is AuthMethod.SIGNATURE
    assert authenticate_webhook("k", body, {"X-Okdesk-Signature": "SHA256=" + sig.upper()}, dict) is AuthMethod.SIGNATURE
    assert authenticate_webhook("k", body + b" ", {"X-Okdesk-Signature": sig}, dict) is None
    assert authenticate_webhook("k", body, {}, lambda: {"token": "k"}) is AuthMethod.TOKEN
    assert authenticate_webhook("k", body, {}, lambda: {"token": "kk"}) is None
    assert authenticate_webhook(None, body, {}, dict) is AuthMethod.NONE
    assert authenticate_webhook("k", body, {"X-Webhook-Token": "ключ"}, dict) is None


def test_telegram_secret():
    assert authenticate_telegram("abc", {"X-Telegram-Bot-Api-Secret-Token": "abc"})
    assert not authenticate_telegram("abc", {"X-Telegram-Bot-Api-Secret-Token": "abd"})
    assert not authenticate_telegram("abc", {})


@pytest.mark.parametrize(("body", "key"), [
    (b'{"issue": {"id": 1380}}', "1380"),
    (b'{"issue": {"id": "153"}, "event": {"event_type": "new_comment"}}', "153"),
    (b'{"event": {"event_type": "new_company"}, "company": {"id": 5}}', "company:5"),
    (b'{"event": {"event_type": "ping"}}', "event:ping"),
])
def test_keys(body, key):
    assert summarise_webhook(body).key == key


@pytest.mark.parametrize("body", [b"", b"  ", b"{", b"[]", b"1", b'{"a": 1}', b'{"issue": 5}', b"\xff",
                                  b'{"issue": {"id": true}}', b'{"issue": {"id": {}}}', b'{"event": {"event_type": 5}}'])
def test_not_webhooks(body):
    with pytest.raises(NotAWebhook):
        summarise_webhook(body)


# Bodies orjson refuses or reads differently from the standard library: the ingest decides on
# them exactly as it did with the standard library alone.
@pytest.mark.parametrize(("body", "key"), [
    (b'{"issue": {"id": 7, "rate": NaN}}', "7"),
    (b'\xef\xbb\xbf{"issue": {"id": 8}}', "8"),
    ('{"issue": {"id": 9}}'.encode("utf-16"), "9"),
    (b'{"issue": {"id": "10", "title": "\\ud800"}}', "10"),
    (b'{"issue": {"id": 123456789012345678901234567890}}', "123456789012345678901234567890"),
    (b'{"event": {}, "company": {"id": 98765432109876543210987}}', "company:98765432109876543210987"),
])
def test_bodies_orjson_reads_otherwise_are_decided_as_by_the_standard_library(body, key):
    assert summarise_webhook(body).key == key


@pytest.mark.parametrize("body", [b'{"issue": {"id": 1.5}}', b"\n\t ", b'{"issue": {"id": -1e400}}'])
def test_not_webhooks_either_way(body):
    with pytest.raises(NotAWebhook):
        summarise_webhook(body)


def test_delivery_ids_are_distinct_version_4_uuids_across_refills():
    ids = DeliveryIds()
    drawn = [ids.next() for _ in range(2 * DeliveryIds.BATCH + 3)]
    assert len(set(drawn)) == len(drawn)
    for text in drawn:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_masking_urls_and_headers():
    assert mask_url("https://x.okdesk.ru/api/v1/issues/1?api_token=abc123&x=1") == "https://x.okdesk.ru/api/v1/issues/1?api_token=***&x=1"
    assert mask_url("/okdesk-webhook?token=s3cret") == "/okdesk-webhook?token=***"
    assert mask_url("https://api.telegram.org/bot123456:AAH-secret_x/sendMessage") == "https://api.telegram.org/bot***/sendMessage"
    assert mask_headers({"X-Webhook-Token": "s", "Accept": "a"}) == {"X-Webhook-Token": "***", "Accept": "a"}


def test_no_log_line_carries_a_token(caplog):
    logger = logging.getLogger("okrate.test.redact")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO):
        logger.info("GET %s failed", "https://acme.okdesk.ru/api/v1/issues/5?api_token=TOPSECRET")

        class Req:
            remote, method, path_qs = "1.2.3.4", "POST", "/okdesk-webhook?token=TOPSECRET"

        class Resp:
            status, body_length = 200, 10

        MaskingAccessLogger(logger, "").log(Req(), Resp(), 0.01)
    assert "TOPSECRET" not in caplog.text
    assert "api_token=***" in caplog.text and "token=***" in caplog.text


@pytest.mark.parametrize(("partition", "offset"), [(0, 0), (3, 12345), (11, 2**62)])
def test_the_accepted_answer_is_what_json_response_made(partition: int, offset: int) -> None:
    made = _accepted(Delivery("okdesk.events", partition, offset))
    expected = web.json_response({"status": "accepted", "partition": partition, "offset": offset})
    assert (made.body, made.status, dict(made.headers)) == (expected.body, expected.status, dict(expected.headers))


def test_the_query_is_read_only_when_no_header_proved_the_request():
    body = b'{"issue": {"id": 1}}'

    def no_query() -> dict:
        raise AssertionError("the query was read")

    assert authenticate_webhook("k", body, {"X-Okdesk-Signature": body_signature("k", body)}, no_query) is AuthMethod.SIGNATURE
    assert authenticate_webhook("k", body, {"X-Webhook-Token": "k"}, no_query) is AuthMethod.TOKEN
    assert authenticate_webhook(None, body, {}, no_query) is AuthMethod.NONE
