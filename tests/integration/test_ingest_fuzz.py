"""Property-based fuzzing of the ingest over real HTTP and the real broker: no 5xx, no crash,
nothing written for a request it refused, everything written for a request it accepted."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.webhooks import build_webhook, encode_body
from schemas.topics import OKDESK_EVENTS
from tests.ingest_server import ingest_in_thread
from tests.kafka_helpers import count_messages

SECRET = "fuzz-secret"
ALLOWED = {200, 400, 401, 405, 408, 413}

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=20)
webhookish = st.fixed_dictionaries({}, optional={
    "event": st.one_of(json_value, st.fixed_dictionaries({"event_type": json_value})),
    "issue": st.one_of(json_value, st.fixed_dictionaries({"id": json_value, "status": json_value})),
}).map(lambda d: json.dumps(d).encode())
realistic = st.builds(
    lambda dialect, issue, status, title: encode_body(build_webhook(dialect, issue, status, "opened", 95, 147, title=title)),
    st.sampled_from(["seed", "okdesk"]), st.integers(1, 10**9), st.sampled_from(["resolved", "completed", "opened", "Closed"]),
    st.text(max_size=40))
bodies = st.one_of(st.binary(max_size=300), webhookish, json_value.map(lambda v: json.dumps(v).encode()), realistic)
header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=80)
auth = st.sampled_from(["none", "good-signature", "bad-signature", "token", "garbage"])


@pytest.fixture(scope="module")
def server(kafka_bootstrap, request):
    from base.settings import load_settings
    from base.topic_admin import ensure_topics

    prefix = f"fuzz{abs(hash(request.node.nodeid)) % 10**8}-"
    cfg = load_settings(_env_file=None, topic_prefix=prefix, topic_partitions=2, webhook_secret=SECRET,
                        webhook_max_bytes=4096)
    ensure_topics(kafka_bootstrap, cfg)
    with ingest_in_thread(cfg, kafka_bootstrap) as port:
        yield {"port": port, "settings": cfg}


def test_fuzzed_requests_and_exactly_the_accepted_ones_were_written(server, kafka_bootstrap):
    """One test: the count at the end is of this test's own requests, whatever ran before."""
    accepted = 0

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(body=bodies, how=auth, content_type=st.one_of(st.none(), header_text), extra=header_text,
           method=st.sampled_from(["POST", "POST", "POST", "PUT", "GET"]))
    def one_request(body, how, content_type, extra, method):
        nonlocal accepted
        status = send(server, body, how, content_type, extra, method)
        assert status in ALLOWED, status
        accepted += status == 200 and method == "POST"

    before = count_messages(kafka_bootstrap, OKDESK_EVENTS.full_name(server["settings"]))
    one_request()
    stored = count_messages(kafka_bootstrap, OKDESK_EVENTS.full_name(server["settings"])) - before
    assert stored == accepted
    assert stored > 0, "the fuzzing should have produced some valid, authenticated webhooks"


def send(server, body: bytes, how: str, content_type: str | None, extra: str, method: str) -> int:
    headers = {"X-Extra": extra}
    path = "/okdesk-webhook"
    if content_type is not None:
        headers["Content-Type"] = content_type
    if how == "good-signature":
        headers["X-Okdesk-Signature"] = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    elif how == "bad-signature":
        headers["X-Okdesk-Signature"] = extra
    elif how == "token":
        path += "?token=" + SECRET
    elif how == "garbage":
        headers["X-Webhook-Token"] = extra
    conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=30)
    try:
        conn.request(method, path, body=body if method != "GET" else None,
                     headers={k: v.encode("latin-1") for k, v in headers.items()})
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    return response.status
