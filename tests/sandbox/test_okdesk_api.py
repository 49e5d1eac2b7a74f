"""The Okdesk REST API stand-in, driven with aiohttp as okrate's Okdesk client will."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from sandbox.clock import FakeClock
from sandbox.okdesk_api import RunningOkdesk
from sandbox.okdesk_state import OkdeskState


class Api:
    def __init__(self, okdesk: RunningOkdesk, http: aiohttp.ClientSession) -> None:
        self.okdesk, self.http = okdesk, http

    async def call(
        self, method: str, path: str, *, token: str | None = "", query: str = "", **kwargs: Any
    ) -> tuple[int, Any]:
        token = self.okdesk.api_token if token == "" else token
        qs = "&".join(p for p in (f"api_token={token}" if token else "", query) if p)
        url = f"{self.okdesk.api_url}{path}" + (f"?{qs}" if qs else "")
        async with self.http.request(method, url, **kwargs) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.text()


@pytest.fixture
async def api(okdesk: RunningOkdesk, http: aiohttp.ClientSession) -> AsyncIterator[Api]:
    yield Api(okdesk, http)


@pytest.fixture
def seeded(ok_state: OkdeskState) -> OkdeskState:
    company = ok_state.add_company("ООО Ромашка", id=147)
    ok_state.add_contact("Иван", "Петров", phone="+7 (916) 123-45-67", company_id=company.id, id=95)
    ok_state.add_contact("Анна", "Смирнова", mobile_phone="89035550000", id=96)
    ok_state.add_issue("Не печатает принтер", contact_id=95, id=1380)
    ok_state.add_issue("Нет интернета", contact_id=96, id=1381, status="completed")
    return ok_state


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_a_missing_or_wrong_api_token_is_401(
    api: Api, seeded: OkdeskState, token: str | None
) -> None:
    status, body = await api.call("GET", "issues/1380", token=token)
    assert status == 401 and "errors" in body


async def test_a_comment_is_added_in_the_wrapped_and_the_flat_form(
    api: Api, seeded: OkdeskState
) -> None:
    status, body = await api.call(
        "POST",
        "issues/1380/comments",
        json={
            "comment": {
                "content": "Оценка: 5<br>Спасибо",
                "author_id": 1,
                "author_type": "employee",
                "public": True,
            }
        },
    )
    assert status == 200
    assert body["content"] == "Оценка: 5<br>Спасибо" and body["public"] is True
    assert body["author"]["id"] == 1 and isinstance(body["id"], int)
    status, _ = await api.call(
        "POST", "issues/1380/comments", json={"content": "flat", "author_id": 1}
    )
    assert status == 200
    status, listed = await api.call("GET", "issues/1380/comments")
    assert status == 200 and [c["content"] for c in listed] == ["Оценка: 5<br>Спасибо", "flat"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"comment": {"author_id": 1}}, "content"),
        ({"comment": {"content": "  ", "author_id": 1}}, "content"),
        ({"comment": {"content": "Оценка: 5"}}, "author_id"),
        ({"comment": {"content": "Оценка: 5", "author_id": 999}}, "author_id"),
    ],
)
async def test_a_comment_without_content_or_a_valid_author_is_422(
    api: Api, seeded: OkdeskState, payload: dict[str, Any], field: str
) -> None:
    status, body = await api.call("POST", "issues/1380/comments", json=payload)
    assert status == 422 and field in body["errors"]
    assert seeded.comments_of(1380) == []


async def test_unknown_ids_are_404(api: Api, seeded: OkdeskState) -> None:
    for method, path, query in [
        ("GET", "issues/9999", ""),
        ("GET", "issues/9999/comments", ""),
        ("POST", "issues/9999/comments", ""),
        ("POST", "issues/9999/rates", ""),
        ("GET", "contacts/", "id=9999"),
    ]:
        payload = {"rate": "good", "content": "x", "author_id": 1}
        status, body = await api.call(method, path, query=query, json=payload)
        assert (status, "errors" in body) == (404, True), path


async def test_an_issue_is_rated_once_with_okdesks_three_point_scale(
    api: Api, seeded: OkdeskState
) -> None:
    status, body = await api.call("POST", "issues/1381/rates", json={"rate": "excellent"})
    assert status == 422 and "rate" in body["errors"]
    status, _ = await api.call("POST", "issues/1381/rates", json={"rate": "good"})
    assert status == 200
    status, issue = await api.call("GET", "issues/1381")
    assert (status, issue["rate"]["value"]) == (200, "good")  # an object: {"id": .., "value": ..}
    assert isinstance(issue["rate"]["id"], int)
    status, body = await api.call("POST", "issues/1381/rates", json={"rate": "bad"})
    assert status == 422 and "rate" in body["errors"]
    assert seeded.issues[1381].rate == "good"


async def test_an_issue_reads_like_okdesks(api: Api, seeded: OkdeskState) -> None:
    status, issue = await api.call("GET", "issues/1380")
    assert status == 200
    assert issue["id"] == 1380 and issue["title"] == "Не печатает принтер"
    assert issue["status"] == {"code": "opened", "name": "Открыта"}
    assert issue["company_id"] == 147 and issue["contact"]["id"] == 95
    assert issue["rate"] is None and issue["created_at"].endswith("+03:00")


async def test_an_issue_is_created_and_listed_by_contact(api: Api, seeded: OkdeskState) -> None:
    status, body = await api.call(
        "POST", "issues/", json={"issue": {"title": "Новая", "contact_id": 96}}
    )
    assert status == 200 and isinstance(body["id"], int)
    status, body = await api.call(
        "POST", "issues/", json={"issue": {"description": "без заголовка"}}
    )
    assert status == 422 and "title" in body["errors"]
    status, listed = await api.call("GET", "issues/list", query="contact_ids[]=96")
    assert status == 200 and [i["title"] for i in listed] == ["Нет интернета", "Новая"]
    status, listed = await api.call(
        "GET", "issues/list", query="contact_ids[]=96&status[]=completed"
    )
    assert [i["id"] for i in listed] == [1381]


@pytest.mark.parametrize("phone", ["%2B79161234567", "79161234567", "+7%20916%20123-45-67"])
async def test_a_contact_is_found_by_phone_in_any_format(
    api: Api, seeded: OkdeskState, phone: str
) -> None:
    status, contact = await api.call("GET", "contacts/", query=f"phone={phone}")
    assert status == 200 and contact["id"] == 95 and contact["company_id"] == 147


async def test_contacts_by_mobile_phone_by_id_and_not_found(api: Api, seeded: OkdeskState) -> None:
    assert (await api.call("GET", "contacts/", query="phone=89035550000"))[1]["id"] == 96
    assert (await api.call("GET", "contacts/", query="id=95"))[1]["last_name"] == "Петров"
    status, body = await api.call("GET", "contacts/", query="phone=%2B70000000000")
    assert status == 404 and "errors" in body


async def test_statuses_are_listed(api: Api, seeded: OkdeskState) -> None:
    seeded.add_status("resolved", "Решена (своя)")
    status, statuses = await api.call("GET", "issues/statuses")
    assert status == 200
    assert {"opened", "completed", "closed", "resolved"} <= {s["code"] for s in statuses}


async def test_an_outage_and_a_429_burst(api: Api, seeded: OkdeskState, clock: FakeClock) -> None:
    seeded.faults.fail_for(10, status=503, methods=["add_comment"])
    status, page = await api.call(
        "POST", "issues/1380/comments", json={"content": "x", "author_id": 1}
    )
    assert status == 503 and "<html>" in page  # the proxy answers, not Okdesk: no JSON
    assert (await api.call("GET", "issues/1380"))[0] == 200
    clock.advance(10)
    assert (await api.call("POST", "issues/1380/comments", json={"content": "x", "author_id": 1}))[
        0
    ] == 200
    seeded.faults.rate_limit_next(1, retry_after=3)
    async with api.http.get(
        f"{api.okdesk.api_url}issues/1380?api_token={api.okdesk.api_token}"
    ) as resp:
        assert resp.status == 429 and resp.headers["Retry-After"] == "3"
    seeded.faults.fail_next(1, 500)
    status, body = await api.call("GET", "issues/1380")
    assert status == 500 and "errors" in body
    assert (await api.call("GET", "issues/1380"))[0] == 200


async def test_calls_are_recorded_with_the_token_masked(api: Api, seeded: OkdeskState) -> None:
    await api.call(
        "POST", "issues/1380/comments", json={"comment": {"content": "x", "author_id": 1}}
    )
    call = seeded.calls[-1]
    assert call.method == "add_comment" and call.path == "POST /api/v1/issues/1380/comments"
    assert call.params["body"] == {"comment": {"content": "x", "author_id": 1}}
    assert call.status == 200 and seeded.api_token not in repr(seeded.calls)


async def test_an_unknown_path_is_404(api: Api, seeded: OkdeskState) -> None:
    status, body = await api.call("GET", "companies/list")
    assert status == 404 and "errors" in body


async def test_a_webhook_carries_the_rate_as_a_string_the_api_as_an_object(
    api: Api, seeded: OkdeskState
) -> None:
    seeded.rate_issue(1381, "normal")
    facts = seeded.issue_facts(seeded.issues[1381])
    assert facts.rate == "normal"
    assert (await api.call("GET", "issues/1381"))[1]["rate"] == {"id": 1, "value": "normal"}


@pytest.mark.parametrize(
    ("accepts", "flat", "wrapped"),
    [("flat", 200, 422), ("wrapped", 422, 200), ("both", 200, 200)],
)
async def test_the_rate_body_form_is_switchable(
    api: Api, seeded: OkdeskState, accepts: str, flat: int, wrapped: int
) -> None:
    seeded.rate_body = accepts  # type: ignore[assignment]
    seeded.add_issue("a", id=2001, status="completed")
    seeded.add_issue("b", id=2002, status="completed")
    status, body = await api.call("POST", "issues/2001/rates", json={"rate": "good"})
    assert status == flat and (status == 200 or body["errors"] == {"rate": ["не может быть пустым"]})
    status, body = await api.call("POST", "issues/2002/rates", json={"issue": {"rate": "bad"}})
    assert status == wrapped and (status == 200 or "rate" in body["errors"])


async def test_the_issue_list_is_paged_and_sorted(api: Api, seeded: OkdeskState, clock: FakeClock) -> None:
    for n in range(12):
        clock.advance(60)
        seeded.add_issue(f"issue {n}", contact_id=95, id=3000 + n)
    clock.advance(60)
    await seeded.change_status(3000, "in_progress")  # the oldest issue, updated last
    seeded.list_page_size = 5
    _, first = await api.call("GET", "issues/list", query="contact_ids[]=95")
    assert [i["id"] for i in first] == [1380, 3000, 3001, 3002, 3003]  # unsorted: oldest first
    assert "description" not in first[0]  # the list carries no description
    _, third = await api.call("GET", "issues/list", query="contact_ids[]=95&page[number]=3")
    assert [i["id"] for i in third] == [3009, 3010, 3011]
    q = "contact_ids[]=95&sorting[field]=created_at&sorting[direction]=reverse&page[size]=2"
    assert [i["id"] for i in (await api.call("GET", "issues/list", query=q))[1]] == [3011, 3010]
    q = "contact_ids[]=95&sorting[field]=updated_at&sorting[direction]=reverse&page[size]=2"
    assert [i["id"] for i in (await api.call("GET", "issues/list", query=q))[1]] == [3000, 3011]
    _, past = await api.call("GET", "issues/list", query="contact_ids[]=95&page[number]=9")
    assert past == []


async def test_list_errors_are_nested_as_okdesks(api: Api, seeded: OkdeskState) -> None:
    status, body = await api.call("GET", "issues/list", query="page[size]=101")
    assert status == 422 and body == {"errors": {"page": {"size": ["должно быть меньше или равно 100"]}}}
    seeded.list_page_size_max = 10
    status, body = await api.call("GET", "issues/list", query="page[size]=11&sorting[direction]=up")
    assert status == 422 and set(body["errors"]) == {"page", "sorting"}
    assert body["errors"]["sorting"] == {"direction": ["должен быть одним из: reverse, forward"]}
    status, body = await api.call("GET", "issues/list", query="completed_since=2026-03-01")
    assert status == 422 and body["errors"] == {"completed_since": ["Неверный формат даты"]}


async def test_completed_since_is_a_day_and_count_answers_ids(
    api: Api, seeded: OkdeskState, clock: FakeClock
) -> None:
    from datetime import datetime

    from sandbox.okdesk_objects import MOSCOW

    day = datetime.fromtimestamp(clock(), MOSCOW).strftime("%d-%m-%Y")
    old = seeded.add_issue("вчерашняя", id=4001)
    await seeded.change_status(old.id, "completed")
    clock.advance(86_400)
    today = datetime.fromtimestamp(clock(), MOSCOW).strftime("%d-%m-%Y")
    new = seeded.add_issue("сегодняшняя", id=4002)
    await seeded.change_status(new.id, "completed")
    q = f"status_codes[]=completed&completed_since={today}"
    assert [i["id"] for i in (await api.call("GET", "issues/list", query=q))[1]] == [4002]
    q = f"status_codes[]=completed&completed_since={day}"
    assert {i["id"] for i in (await api.call("GET", "issues/list", query=q))[1]} >= {4001, 4002}
    status, ids = await api.call("GET", "issues/count", query=f"status[]=completed&updated_since={today}")
    assert status == 200 and ids == [4002]
