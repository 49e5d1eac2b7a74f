"""Hostile input against the ingest's own OpenAPI description (schemathesis): no 5xx (the broker
is up, so not even 503), answers that match the description, nothing written when refused."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from base.settings import load_settings
from ingest.openapi import openapi_document
from schemas.topics import OKDESK_EVENTS, TELEGRAM_UPDATES
from tests.ingest_server import ingest_in_thread
from tests.kafka_helpers import count_messages

SECRET = "schemathesis-secret"
CONFIG = load_settings(_env_file=None, webhook_secret=SECRET, telegram_webhook_secret="tg-secret", webhook_max_bytes=8192)
SCHEMA = schemathesis.openapi.from_dict(openapi_document(CONFIG))
ACCEPTED: list[str] = []


@pytest.fixture(scope="module")
def ingest_url(kafka_bootstrap):
    from base.topic_admin import ensure_topics

    cfg = CONFIG.model_copy(update={"topic_prefix": "openapi-", "topic_partitions": 2})
    ensure_topics(kafka_bootstrap, cfg)
    with ingest_in_thread(cfg, kafka_bootstrap) as port:
        yield f"http://127.0.0.1:{port}", cfg


def test_the_document_is_served(ingest_url):
    import urllib.request

    with urllib.request.urlopen(f"{ingest_url[0]}/openapi.json") as response:
        assert response.status == 200
        assert "/okdesk-webhook" in response.read().decode()


@SCHEMA.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_ingest_holds_to_its_description(case, ingest_url):
    url, _ = ingest_url
    # Half the webhook cases carry the right token, so that valid bodies get past authentication.
    if case.method == "POST" and case.path == CONFIG.webhook_path and hash(repr(case.body)) % 2 == 0:
        case.query = {**(case.query or {}), "token": SECRET}
    response = case.call_and_validate(base_url=url)
    assert response.status_code < 500, response.text
    if response.status_code == 200 and case.method == "POST":
        ACCEPTED.append(case.path)


def test_only_accepted_requests_were_written(ingest_url, kafka_bootstrap):
    _, cfg = ingest_url
    written = count_messages(kafka_bootstrap, OKDESK_EVENTS.full_name(cfg)) + count_messages(kafka_bootstrap, TELEGRAM_UPDATES.full_name(cfg))
    assert written == len(ACCEPTED)
    assert ACCEPTED, "some generated webhooks should have been valid and accepted"
