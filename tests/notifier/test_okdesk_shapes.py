"""okrate's Okdesk client against the stand-in answering as Okdesk does: the rate as an object,
`author_id` required, a paged and sorted `/issues/list`, two rate body forms, errors of every
shape, `+` in a phone query, missing and null fields."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

import pytest

from notifier import decide
from notifier.okdesk.client import OkdeskClient, OkdeskError, errors_text, rate_value
from notifier.okdesk.issue_create import IssueCreator
from notifier.okdesk.writeback import RATE, OkdeskWrite, reconciled


@pytest.fixture
async def client(okdesk):
    c = OkdeskClient(okdesk.api_url, okdesk.api_token)
    yield c
    await c.close()


async def test_a_rate_read_back_as_an_object_is_the_one_okrate_wrote(okdesk, client):
    issue = okdesk.state.add_issue("Крах", status="completed")
    await client.rate_issue(str(issue.id), "good")
    answer = await client.get_issue(str(issue.id))
    assert isinstance(answer["rate"], dict)  # {"id": .., "value": "good"}
    write = OkdeskWrite(f"r:{RATE}", RATE, str(issue.id), "r", {"rate": "good"})
    assert reconciled(write, issue=answer).status == decide.OK
    other = OkdeskWrite(f"r:{RATE}", RATE, str(issue.id), "r", {"rate": "bad"})
    assert reconciled(other, issue=answer).error == "the issue is already rated: good"


@pytest.mark.parametrize("command", ["notifier", "run"])
def test_without_okdesk_author_id_okrate_refuses_to_start_naming_it(command, okdesk, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "OKDESK_", "KAFKA_"))}
    env.update(OKDESK_API_URL=okdesk.api_url, OKDESK_API_TOKEN=okdesk.api_token,
               TELEGRAM_BOT_TOKEN="123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1")
    done = subprocess.run([sys.executable, "-m", "okrate.cli", command], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "OKDESK_AUTHOR_ID is not set" in done.stderr and "author_id" in done.stderr
    assert not okdesk.state.calls  # nothing was sent without it


async def test_a_comment_names_its_author(okdesk, client):
    issue = okdesk.state.add_issue("Принтер")
    await client.add_comment(str(issue.id), "Оценка: 5", author_id=1, public=False)
    assert okdesk.state.calls_to("add_comment")[-1].params["body"]["comment"]["author_id"] == 1
    with pytest.raises(OkdeskError) as refused:
        await client.add_comment(str(issue.id), "Оценка: 5", author_id=999, public=False)
    assert refused.value.status == 422 and refused.value.errors == "author_id: employee с id 999 не найден"


@pytest.mark.parametrize("accepts", ["flat", "wrapped", "both"])
async def test_the_rate_body_falls_back_once_and_keeps_the_form_that_works(okdesk, client, accepts, caplog):
    okdesk.state.rate_body = accepts
    first, second = (okdesk.state.add_issue(t, status="completed") for t in ("a", "b"))
    with caplog.at_level(logging.WARNING, "okrate.notifier.okdesk"):
        await client.rate_issue(str(first.id), "good")
        await client.rate_issue(str(second.id), "bad")
    assert (okdesk.state.issues[first.id].rate, okdesk.state.issues[second.id].rate) == ("good", "bad")
    calls = okdesk.state.calls_to("rate_issue")
    bodies = [c.params["body"] for c in calls]
    if accepts == "wrapped":  # the documented form, refused naming `rate`; then the other one, kept
        assert bodies == [{"rate": "good"}, {"issue": {"rate": "good"}}, {"issue": {"rate": "bad"}}]
        assert len([r for r in caplog.records if "from now on" in r.getMessage()]) == 1
    else:
        assert bodies == [{"rate": "good"}, {"rate": "bad"}]
        assert not [r for r in caplog.records if "from now on" in r.getMessage()]


async def test_an_already_rated_issue_stays_a_failure_in_either_form(okdesk, client):
    issue = okdesk.state.add_issue("a", status="completed")
    okdesk.state.rate_issue(issue.id, "normal")
    with pytest.raises(OkdeskError) as refused:
        await client.rate_issue(str(issue.id), "good")
    assert refused.value.errors == "rate: Заявка уже оценена"
    assert okdesk.state.issues[issue.id].rate == "normal"


async def test_every_error_shape_is_one_readable_line(okdesk, client, caplog):
    with caplog.at_level(logging.WARNING, "okrate.notifier.okdesk"):
        with pytest.raises(OkdeskError) as nested:
            await client.call("GET", "issues/list", params={"page[size]": "101", "sorting[direction]": "up"})
        okdesk.state.faults.fail_next(1, 502)
        with pytest.raises(OkdeskError) as proxy:
            await client.get_issue("1")
        wrong = OkdeskClient(okdesk.api_url, "wrong")
        with pytest.raises(OkdeskError) as denied:
            await wrong.get_issue("1")
        await wrong.close()
    assert nested.value.errors == ("page.size: должно быть меньше или равно 100; "
                                   "sorting.direction: должен быть одним из: reverse, forward")
    assert proxy.value.errors == "HTTP 502: 502 Bad Gateway (text/html, not JSON)"
    assert denied.value.errors == "Доступ запрещён: неверный api_token"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and all("\n" not in line for line in lines)
    assert "page.size" in lines[0] and "502 Bad Gateway" in lines[1] and "api_token=***" in lines[2]


def test_error_bodies_in_the_wild_become_one_line():
    assert errors_text({"errors": ["a", "b"]}, "") == "a, b"
    assert errors_text({"errors": {"observer_ids": {"1": ["должно иметь тип integer"]}}}, "") == (
        "observer_ids.1: должно иметь тип integer")
    assert errors_text({"errors": {"rate": "нет"}, "x": 1}, "") == "rate: нет"
    assert errors_text(None, "Internal\nServer Error", 500, "text/plain") == (
        "HTTP 500: Internal Server Error (text/plain, not JSON)")
    assert errors_text(None, "", 504, None) == "HTTP 504: an empty answer (no content type, not JSON)"
    assert errors_text({"errors": None}, "", 500) == 'HTTP 500: {"errors": null}'


async def test_a_plus_in_a_phone_query_arrives_as_2b(okdesk, client):
    okdesk.state.add_contact("Иван", phone="+7 916 123-45-67", id=95)
    found = await client.find_contacts("+79161234567")
    assert [c["id"] for c in found] == [95]
    assert okdesk.state.calls_to("find_contact")[-1].raw_query == "phone=%2B79161234567"


async def test_after_a_crash_the_created_issue_is_found_on_a_later_page_newest_first(okdesk):
    state = okdesk.state
    state.list_page_size = state.list_page_size_max = 5
    state.add_contact("Иван", id=95)
    for n in range(23):
        state.add_issue(f"старая {n}", contact_id=95, description="")
    marker = "[okrate:new:77]"
    made = state.add_issue("Сломался ноутбук", contact_id=95, description=f"текст {marker}")
    for n in range(3):  # created since by someone else
        state.add_issue(f"новая {n}", contact_id=95)
    client = OkdeskClient(okdesk.api_url, okdesk.api_token, page_size=5)
    creator = IssueCreator(client, None, None, None, None, portal_url=None, retry_for=60)  # type: ignore[arg-type]
    try:
        found = await creator._reconcile({"marker": marker, "contact_id": "95", "title": "Сломался ноутбук"},
                                         time.time())
        assert found == str(made.id)
        pages = state.calls_to("list_issues")
        assert [c.params["query"]["sorting[direction]"] for c in pages] == ["reverse"]
        assert len(state.calls_to("get_issue")) == 1  # only the one titled as intended was read
        # the unsorted first page held only the oldest issues: it would have missed it
        first_unsorted = await client.request("GET", "issues/list", params={"contact_ids[]": "95"})
        assert str(made.id) not in {str(i["id"]) for i in first_unsorted}
        # not there: the walk stops at issues created before the first intent, not at page 1
        state.issues.pop(made.id)
        assert await creator._reconcile({"marker": marker, "contact_id": "95", "title": "Сломался ноутбук"},
                                        time.time() + 2 * 86_400) is None
        assert len(state.calls_to("list_issues")) == 3  # its first page only, besides the two above
    finally:
        await client.close()


def test_missing_and_null_fields_are_tolerated():
    write = OkdeskWrite("k", RATE, "1", "r", {"rate": "good"})
    for issue in ({}, {"rate": None}, {"rate": {}}, {"rate": {"id": 1, "value": None}}, {"rate": 3}):
        assert reconciled(write, issue=issue) is None
    comment = OkdeskWrite("k", "okdesk.comment", "1", "r", {"marker": "[m]"})
    assert reconciled(comment, comments=[None, {"content": None}, {"id": None, "content": "x [m]"}]).comment_id is None
    assert rate_value({"value": " Good "}) == "good" and rate_value("normal") == "normal"
    from notifier.okdesk.issue_create import created_before, find_marked

    assert find_marked([{"id": None, "description": "[m]"}, {"description": None}, {"id": 5, "description": "[m]"}],
                       "[m]") == "5"
    assert not created_before({"created_at": None}, 1e12) and not created_before({"created_at": "x"}, 1e12)
