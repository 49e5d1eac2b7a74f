"""The Okdesk stand-in acting as Okdesk: webhooks of both dialects, signed, when a status
changes or a comment appears."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from sandbox.okdesk_api import RunningOkdesk
from sandbox.okdesk_state import OkdeskState
from sandbox.runner import run_app
from sandbox.webhooks import SIGNATURE_HEADER, build_webhook, encode_body, send_webhook, sign_body


@dataclass
class Ingest:
    """Stands in for okrate's webhook endpoint: keeps raw bodies and headers."""

    url: str = ""
    status: int = 200
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
async def ingest() -> AsyncIterator[Ingest]:
    rec = Ingest()

    async def handle(request: web.Request) -> web.Response:
        headers = dict(request.headers)
        if request.query_string:
            headers["X-Query"] = request.query_string  # which target this came to
        rec.received.append((await request.read(), headers))
        return web.json_response({"ok": True}, status=rec.status)

    app = web.Application()
    app.router.add_post("/okdesk-webhook", handle)
    async with run_app(app) as base:
        rec.url = f"{base}/okdesk-webhook"
        yield rec


def test_the_okdesk_dialect_has_the_transition_in_the_event_and_string_ids() -> None:
    payload = build_webhook(
        "okdesk", 1380, "completed", "opened", contact_id=95, company_id=147, title="Принтер"
    )
    event, issue = payload["event"], payload["issue"]
    assert event["event_type"] == "new_ticket_status"
    assert event["old_status"] == {"code": "opened", "name": "Открыта"}
    assert event["new_status"] == {"code": "completed", "name": "Решена"}
    assert event["author"]["type"] == "employee" and isinstance(event["author"]["id"], str)
    assert issue["id"] == "1380" and issue["title"] == "Принтер"
    assert issue["client"]["contact"]["id"] == "95"
    assert issue["client"]["company"]["id"] == "147"


def test_the_seed_dialect_is_the_seeds_shape_with_integer_ids() -> None:
    payload = build_webhook(
        "seed", 1380, "resolved", "opened", contact_id=95, company_id=147, title="Принтер"
    )
    assert payload == {
        "event": {"event_type": "issue.status_changed"},
        "issue": {
            "id": 1380,
            "title": "Принтер",
            "status": {"code": "resolved", "name": "Решена"},
            "old_status": {"code": "opened", "name": "Открыта"},
            "client": {"contact": {"id": 95}, "company": {"id": 147}},
        },
    }


def test_an_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError, match="dialect"):
        build_webhook("jira", 1, "completed")  # type: ignore[arg-type]


def test_the_signature_is_an_hmac_sha256_of_the_raw_body() -> None:
    body = encode_body(build_webhook("seed", 1, "resolved"))
    expected = hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert sign_body(body, "k3y") == f"sha256={expected}"


async def test_send_webhook_posts_the_signed_bytes(ingest: Ingest) -> None:
    payload = build_webhook("okdesk", 7, "closed", "completed")
    delivery = await send_webhook(ingest.url, payload, secret="k3y")
    assert delivery.ok and delivery.status == 200
    [(body, headers)] = ingest.received
    assert body == encode_body(payload)
    assert headers[SIGNATURE_HEADER] == sign_body(body, "k3y")
    assert headers["Content-Type"].startswith("application/json")


async def test_send_webhook_reports_an_unreachable_endpoint(ingest: Ingest) -> None:
    delivery = await send_webhook(
        "http://127.0.0.1:9/nowhere", build_webhook("seed", 1, "resolved")
    )
    assert not delivery.ok and delivery.status is None and delivery.error


async def test_resolving_an_issue_posts_both_dialects_to_their_targets(
    okdesk: RunningOkdesk, ok_state: OkdeskState, ingest: Ingest
) -> None:
    contact = ok_state.add_contact("Иван", "Петров", phone="79161234567", id=95)
    issue = ok_state.add_issue("Принтер", contact_id=contact.id, id=1380)
    ok_state.add_webhook_target(ingest.url, "okdesk", secret="k3y")
    ok_state.add_webhook_target(ingest.url + "?token=t", "seed")
    deliveries = await ok_state.change_status(issue.id, "completed", comment="Заменили картридж")
    assert [d.status for d in deliveries] == [200, 200]
    assert ok_state.issues[1380].status == "completed" and ok_state.issues[1380].completed_at
    by_query = {bool(headers.get("X-Query")): (body, headers) for body, headers in ingest.received}
    (real_body, real_headers), (_, seed_headers) = by_query[False], by_query[True]
    real = deliveries[0].payload
    assert real["event"]["new_status"]["code"] == "completed"
    assert real["event"]["comment"]["content"] == "Заменили картридж"
    assert real["issue"]["client"]["contact"] == {
        "id": "95",
        "first_name": "Иван",
        "last_name": "Петров",
        "patronymic": None,
    }
    assert real_headers[SIGNATURE_HEADER] == sign_body(real_body, "k3y")
    assert SIGNATURE_HEADER not in seed_headers
    assert deliveries[1].payload["issue"]["status"]["code"] == "completed"
    assert deliveries[1].payload["issue"]["old_status"]["code"] == "opened"


async def test_a_one_off_webhook_url_and_a_failing_endpoint_are_reported(
    ok_state: OkdeskState, ingest: Ingest
) -> None:
    issue = ok_state.add_issue("Принтер")
    ingest.status = 500
    [delivery] = await ok_state.change_status(
        issue.id, "closed", webhook_url=ingest.url, dialect="seed"
    )
    assert delivery.status == 500 and not delivery.ok
    assert ok_state.webhook_deliveries == [delivery]


async def test_a_comment_posted_through_the_api_comes_back_as_a_webhook(
    okdesk: RunningOkdesk, ok_state: OkdeskState, ingest: Ingest, http: aiohttp.ClientSession
) -> None:
    issue = ok_state.add_issue("Принтер")
    ok_state.add_webhook_target(ingest.url, "okdesk")
    url = f"{okdesk.api_url}issues/{issue.id}/comments?api_token={okdesk.api_token}"
    async with http.post(url, json={"comment": {"content": "Оценка: 5", "author_id": 1}}) as resp:
        assert resp.status == 200
    await ok_state.wait_until(lambda: ok_state.webhook_deliveries)
    payload = ok_state.webhook_deliveries[0].payload
    assert payload["event"]["event_type"] == "new_comment"
    assert payload["event"]["comment"]["content"] == "Оценка: 5"
    assert payload["event"]["author"] == {
        "id": "1",
        "first_name": "Служба",
        "last_name": "поддержки",
        "type": "employee",
    }


async def test_the_sandbox_page_resolves_an_issue_over_http(
    okdesk: RunningOkdesk, ok_state: OkdeskState, ingest: Ingest, http: aiohttp.ClientSession
) -> None:
    base = f"{okdesk.base_url}/_sandbox"
    async with http.post(
        f"{base}/contacts", json={"first_name": "Иван", "phone": "+79161234567"}
    ) as resp:
        contact = await resp.json()
    async with http.post(
        f"{base}/issues", json={"title": "Принтер", "contact_id": contact["id"]}
    ) as resp:
        issue = await resp.json()
    async with http.post(
        f"{base}/webhook-targets", json={"url": ingest.url, "dialect": "seed", "secret": "k3y"}
    ) as resp:
        assert resp.status == 200
    async with http.post(
        f"{base}/issues/{issue['id']}/status", json={"status": "completed"}
    ) as resp:
        result = await resp.json()
    assert result["issue"]["status"]["code"] == "completed"
    [delivery] = result["deliveries"]
    assert (delivery["status"], delivery["event_type"]) == (200, "issue.status_changed")
    async with http.post(f"{base}/issues/999/status", json={"status": "completed"}) as resp:
        assert resp.status == 404
    async with http.get(f"{base}/webhooks") as resp:
        assert len((await resp.json())["deliveries"]) == 1


async def test_with_the_ingest_unreachable_a_resolution_is_not_delivered_and_never_retried(
    okdesk: RunningOkdesk, ok_state: OkdeskState, ingest: Ingest, http: aiohttp.ClientSession
) -> None:
    base = f"{okdesk.base_url}/_sandbox"
    issue = ok_state.add_issue("Принтер")
    ok_state.add_webhook_target(ingest.url)
    async with http.post(f"{base}/webhooks/down", json={"down": True}) as resp:
        assert (resp.status, await resp.json()) == (200, {"down": True})
    async with http.post(f"{base}/issues/{issue.id}/status", json={"status": "completed"}) as resp:
        [delivery] = (await resp.json())["deliveries"]
    assert delivery["status"] is None and "unreachable" in delivery["error"]
    async with http.post(f"{base}/webhooks/down", json={"down": False}) as resp:
        assert resp.status == 200
    await ok_state.drain()
    assert len(ok_state.webhook_deliveries) == 1  # Okdesk documents no retry
    assert ok_state.issues[issue.id].status == "completed"
    async with http.post(f"{base}/webhooks/down", json={"down": "yes"}) as resp:
        assert resp.status == 400
