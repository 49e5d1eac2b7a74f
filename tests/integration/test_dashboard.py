"""The dashboard (`GET /dashboard`, `GET /dashboard/data`) and `GET /stats.csv` on the streams
worker's web port, through the real broker: a scripted history of three weeks of decisions gives
the expected figures, the spreadsheet has the documented columns and a row per dimension, the
token is required, and headless Chromium draws every chart with the data it was given (read back
through `Chart.getChart`, and non-blank pixels), refreshes without a reload, and leaves a
screenshot in `tests/artifacts/dashboard.png`."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import os
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict

from base.export import STATS_COLUMNS
from base.links import link_record
from schemas.codec import decode, encode
from schemas.records import (
    IssueEvent,
    RatingExpired,
    RatingRecorded,
    RatingReminder,
    RatingRequested,
    ReasonRecorded,
    Record,
    SideEffectOutcome,
)
from schemas.topics import (
    CONTACT_LINKS,
    ISSUE_EVENTS,
    NOTIFIER_OUTCOMES,
    RATING_RECORDED,
    RATING_REQUESTED,
    TopicSpec,
)
from streams.web.dashboard_data import dashboard_document, day_keys, histogram, week_keys
from streams.web.gate import SESSION_COOKIE
from streams.web.low_ratings import LATEST_LOW, LowRatingsTail, Names, TailView
from tests.browser import find_chromium, launch
from tests.integration.test_stats import converged, expected_snapshots, feed, free_port, worker
from tests.streams_harness import Feeder

pytestmark = pytest.mark.kafka

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TOKEN = "dash-s3cret"
PORTAL = "http://portal.example/okdesk"
T_START = datetime(2026, 11, 9, 7, 0, tzinfo=UTC)  # Monday 10:00 in Moscow, ISO week 46
N = 36

COMPANIES = {"147": "ООО «Ромашка»", "148": "АО «Вектор»", "149": "ИП Соколов"}
ASSIGNEES = {"2": ("Алексей Смирнов", "1"), "3": ("Ольга Кузнецова", "1"),
             "4": ("Дмитрий Орлов", "2"), "5": ("Наталья Волкова", "2")}
GROUPS = {"1": "Первая линия", "2": "Инженеры"}
TYPES = {"printer": ("Принтер", "Принтер <HP> не печатает & мигает"),
         "mail": ("Почта", "Не приходит почта"), "vpn": ("VPN", "VPN не подключается"),
         "1c": ("1С", "1С медленно работает"), "network": ("Сеть", "Нет сети в переговорной")}
SCORE_CYCLE = (5, 4, 5, 2, 5, 4, 3, 5, 1, 4, 5, 5)
RESOLUTION_HOURS = (0.4, 1.5, 3, 6, 20, 50, 2, 0.1, 9, 30, 4, 75)
REACTION_MINUTES = (5, 12, 30, 45, 90, None)


def chromium_or_skip() -> str:
    """As in tests/sandbox: without Chromium the browser part is skipped, except in CI (fails)."""
    path = find_chromium()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium); the HTTP checks passed")
    return path


# -- the scripted history ------------------------------------------------------------------------


def issue_plan(n: int) -> dict[str, Any]:
    """Issue `2000 + n` (n = 1..N): resolved every 13 hours from T_START over three weeks."""
    company = sorted(COMPANIES)[n % 3]
    assignee = sorted(ASSIGNEES)[n % 4]
    type_code = sorted(TYPES)[(n * 7) % 5]
    resolved = T_START + timedelta(hours=13 * (n - 1))
    answered = n % 9 != 4
    score = SCORE_CYCLE[n % len(SCORE_CYCLE)] if answered else None
    return {
        "issue": str(2000 + n), "company": company, "assignee": assignee,
        "group": ASSIGNEES[assignee][1], "type": type_code, "resolved": resolved,
        "created": resolved - timedelta(hours=RESOLUTION_HOURS[n % len(RESOLUTION_HOURS)]),
        "react": REACTION_MINUTES[n % len(REACTION_MINUTES)], "score": score,
        "pressed": resolved + timedelta(minutes=25 + n), "contact": f"c{n}",
        "reason": None if score is None or score > 2 else ("Долго", "Проблема не решена", None)[n % 3],
    }


def issue_records(p: dict[str, Any]) -> list[tuple[TopicSpec, str, Record]]:
    issue, rid = p["issue"], f"{p['issue']}.0.1"
    attrs = {"company_id": p["company"], "assignee_employee_id": p["assignee"],
             "assignee_group_id": p["group"], "type_code": p["type"]}
    names = {"company_name": COMPANIES[p["company"]], "assignee_employee_name": ASSIGNEES[p["assignee"]][0],
             "assignee_group_name": GROUPS[p["group"]], "type_name": TYPES[p["type"]][0],
             "title": f"{TYPES[p['type']][1]} ({issue})"}
    created, resolved = p["created"], p["resolved"]
    out: list[tuple[TopicSpec, str, Record]] = []
    for i, (kind, at) in enumerate((("created", created), ("status_changed", resolved))):
        reacted = created + timedelta(minutes=p["react"]) if p["react"] is not None and i else None
        out.append((ISSUE_EVENTS, issue, IssueEvent(
            event_id=f"issue-event/{issue}/{i}", kind=kind, dialect="seed", issue_id=issue, event_time=at,
            delivery_id=f"{issue}-{i}", source_topic="okdesk.events", source_partition=0, source_offset=i,
            created_at=created, reacted_at=reacted, **attrs)))
    out.append((RATING_REQUESTED, issue, RatingRequested(
        event_id=f"{rid}/x", request_id=rid, issue_id=issue, cycle=1, requested_at=resolved,
        trigger_partition=0, trigger_offset=1, issue_created_at=created, deliverable=True,
        recipient_user_id=500, addressed_at=resolved, contact_id=p["contact"], **attrs)))
    out.append((NOTIFIER_OUTCOMES, issue, SideEffectOutcome(
        idempotency_key=f"{rid}/send", kind="telegram.send_request", status="ok", issue_id=issue,
        request_id=rid, completed_at=resolved + timedelta(seconds=2))))
    if p["score"] is None:
        out.append((RATING_REQUESTED, issue, RatingReminder(
            event_id=f"{rid}/reminder/1", request_id=rid, issue_id=issue, reminded_at=resolved + timedelta(days=1))))
        out.append((RATING_REQUESTED, issue, RatingExpired(
            event_id=f"{rid}/expired", request_id=rid, issue_id=issue, expired_at=resolved + timedelta(days=3))))
        return out
    out.append((RATING_RECORDED, issue, RatingRecorded(
        event_id=f"{rid}/rated", request_id=rid, issue_id=issue, score=p["score"], from_user_id=500,
        update_id=int(issue), requested_at=resolved, pressed_at=p["pressed"], contact_id=p["contact"],
        **attrs, **names)))
    if p["score"] <= 2:
        out.append((RATING_RECORDED, issue, ReasonRecorded(
            event_id=f"{rid}/reason", request_id=rid, issue_id=issue, score=p["score"],
            reason_code=p["reason"], text=None if p["reason"] else "Третий раз за месяц",
            from_user_id=500, update_id=10_000 + int(issue), given_at=p["pressed"] + timedelta(minutes=1),
            contact_id=p["contact"], **attrs)))
    return out


PLANS = [issue_plan(n) for n in range(1, N + 1)]
LOWS = sorted((p for p in PLANS if p["score"] is not None and p["score"] <= 2), key=lambda p: p["pressed"])
FORGOTTEN = LOWS[-2]["contact"]  # the second newest low rating's client asked to be forgotten


def history() -> list[tuple[TopicSpec, str, Record]]:
    return [item for p in PLANS for item in issue_records(p)]


def names_of(items) -> Names:
    names = Names()
    for _, _, record in items:
        if isinstance(record, RatingRecorded):
            names.take(record)
    return names


# -- HTTP helpers ---------------------------------------------------------------------------------


async def get(port: int, path: str, *, token: str | None = None, cookies: dict[str, str] | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, CIMultiDict[str], bytes]:
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession(cookies=cookies) as session, session.get(
            f"http://127.0.0.1:{port}{path}", headers=headers, allow_redirects=False) as resp:
        return resp.status, CIMultiDict(resp.headers), await resp.read()


async def login(port: int, token: str) -> tuple[int, CIMultiDict[str], aiohttp.CookieJar]:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session, session.post(
            f"http://127.0.0.1:{port}/dashboard/login", data={"token": token, "next": "/dashboard"},
            allow_redirects=False) as resp:
        return resp.status, CIMultiDict(resp.headers), jar


async def data_when(port: int, predicate, timeout: float = 20.0) -> dict[str, Any]:
    import json

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    doc: dict[str, Any] = {}
    while loop.time() < deadline:
        status, _, body = await get(port, "/dashboard/data", token=TOKEN)
        if status == 200:
            doc = json.loads(body)
            if predicate(doc):
                return doc
        await asyncio.sleep(0.3)
    raise AssertionError(f"/dashboard/data did not get there: {str(doc)[:3000]}")


# -- the test ---------------------------------------------------------------------------------------


async def test_dashboard_figures_csv_token_and_charts_in_chromium(settings_for, kafka_bootstrap, tmp_path):
    # wrong tokens on every route from one address: more than the login limit, which has its own test
    settings = settings_for(admin_token=TOKEN, okdesk_portal_url=PORTAL, dashboard_login_failures=50)
    items = history()
    want = expected_snapshots(items, settings.stats_timezone)
    feeder = Feeder(settings, kafka_bootstrap)
    feed(feeder, items)
    feeder.record(CONTACT_LINKS, FORGOTTEN, link_record(FORGOTTEN, "forgotten", "forget"))
    port = free_port()
    app_id = f"okrate-test-{uuid.uuid4().hex[:8]}"
    async with worker(settings, kafka_bootstrap, tmp_path / "w", app_id, web_port=port, store="memory://"):
        await converged(kafka_bootstrap, settings, want)

        # -- the token: bearer, or the login form's cookie; nothing without it ----------------
        status, headers, body = await get(port, "/dashboard")
        assert status == 401 and b'<form class="login"' in body and b"/dashboard/login" in body
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        for path in ("/dashboard/data", "/stats.csv"):
            assert (await get(port, path))[0] == 401
            assert (await get(port, path, token="wrong"))[0] == 401
            assert (await get(port, path, cookies={SESSION_COOKIE: "forged"}))[0] == 401
        status, _, body = await get(port, "/dashboard", token=TOKEN)
        assert status == 200 and b'id="chart-scores"' in body and b'data-protected="true"' in body
        status, _, body = await get(port, "/dashboard/static/vendor/chart.umd.min.js")
        assert status == 200 and body.startswith(b"/*!\n * Chart.js v4.")  # shipped, no data: open
        assert (await login(port, "wrong"))[0] == 401
        status, headers, jar = await login(port, TOKEN)
        assert status == 303 and headers["Location"] == "/dashboard"
        assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
        assert TOKEN not in headers["Set-Cookie"]
        cookie = {c.key: c.value for c in jar}
        assert (await get(port, "/dashboard", cookies=cookie))[0] == 200
        assert (await get(port, "/stats.csv", cookies=cookie))[0] == 200

        # -- the data: the figures of the pure rules, and the latest low ratings --------------
        doc = await data_when(port, lambda d: d["low_ratings"]["complete"])
        latest = {dim: decode(value) for dim, value in want.items()}
        expected = dashboard_document(latest, TailView([], names_of(items), True), PORTAL)
        for key in expected:
            if key not in ("generated_at", "low_ratings"):
                assert doc[key] == expected[key], key
        answered = [p for p in PLANS if p["score"] is not None]
        scores = Counter(p["score"] for p in answered)
        assert doc["scores"]["counts"] == [scores[s] for s in range(1, 6)]
        totals = doc["totals"]
        assert totals["ratings_count"] == len(answered) == 32
        assert totals["ratings_average"] == round(sum(p["score"] for p in answered) / len(answered), 4)
        assert totals["low_count"] == len(LOWS) and totals["requests_sent"] == N
        assert totals["response_rate"] == round(len(answered) / N, 4)
        assert totals["requests_expired"] == N - len(answered)
        days = [datetime.fromisoformat(d).date() for d in doc["days"]["labels"]]
        assert days[0].isoformat() == "2026-11-09" and days[-1].isoformat() == max(d[4:] for d in want if d[:4] == "day:")
        assert all((b - a).days == 1 for a, b in itertools.pairwise(days))  # no gaps
        assert doc["weeks"]["labels"] == ["2026-W46", "2026-W47", "2026-W48"]
        assert sum(doc["days"]["ratings_count"]) == sum(doc["weeks"]["ratings_count"]) == 32
        alexey = next(a for a in doc["assignees"]["items"] if a["id"] == "2")
        mine = [p["score"] for p in answered if p["assignee"] == "2"]
        assert alexey["name"] == "Алексей Смирнов" and alexey["ratings_count"] == len(mine)
        assert alexey["ratings_average"] == round(sum(mine) / len(mine), 4)
        assert {g["name"] for g in doc["groups"]["items"]} == set(GROUPS.values())
        assert {c["name"] for c in doc["companies"]["items"]} == set(COMPANIES.values())
        assert doc["resolution_time"]["count"] == N
        assert sum(b["count"] for b in doc["resolution_time"]["buckets"]) == N
        assert doc["resolution_time"]["buckets"][0]["label"] == "≤ 15 min"  # 0.1 h: the first used
        assert doc["types"]["names"][0] in {name for name, _ in TYPES.values()}
        assert sum(doc["types"]["low_ratings"]) == len(LOWS)
        assert dict(zip(doc["reasons"]["labels"], doc["reasons"]["counts"], strict=True)) == dict(
            Counter(p["reason"] or "free_text" for p in LOWS))
        low = doc["low_ratings"]["items"]
        shown = [p for p in reversed(LOWS) if p["contact"] != FORGOTTEN][:LATEST_LOW]
        assert [r["issue_id"] for r in low] == [p["issue"] for p in shown]
        assert low[0]["url"] == f"{PORTAL}/issues/{shown[0]['issue']}"
        assert low[0]["company_name"] == COMPANIES[shown[0]["company"]]
        assert low[0]["reasons"] == [shown[0]["reason"] or "free_text"]
        assert all("contact" not in key and "user" not in key for key in low[0])  # no personal data
        etag = (await get(port, "/dashboard/data", token=TOKEN))[1]["ETag"]
        assert (await get(port, "/dashboard/data", token=TOKEN, headers={"If-None-Match": etag}))[0] == 304

        # -- the spreadsheet --------------------------------------------------------------------
        status, headers, body = await get(port, "/stats.csv", token=TOKEN)
        assert status == 200 and headers["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
        assert tuple(rows[0].keys()) == STATS_COLUMNS
        assert [r["dimension"] for r in rows] == sorted(want)
        every = next(r for r in rows if r["dimension"] == "all")
        assert int(every["ratings_count"]) == 32 and float(every["ratings_average"]) == totals["ratings_average"]
        assert [int(every[f"score_{s}"]) for s in range(1, 6)] == doc["scores"]["counts"]
        assert float(every["response_rate"]) == totals["response_rate"]

        # -- the page in Chromium -------------------------------------------------------------
        executable = chromium_or_skip()
        async with launch(executable) as browser:
            page = await browser.new_page(1440, 900)
            base = f"http://127.0.0.1:{port}"
            await page.goto(f"{base}/dashboard")
            await page.wait_for("!!document.querySelector('form.login')")
            await page.set_value("input[name=token]", TOKEN)
            await page.click("form.login button")
            await page.wait_for("window.okrateDashboard && window.okrateDashboard.updates >= 1", timeout=15)
            assert await page.evaluate("document.cookie") == ""  # HttpOnly
            await check_charts(page, doc)
            rows_js = "[...document.querySelectorAll('#low-rows tr')].map(r => r.dataset.issueId)"
            assert await page.evaluate(rows_js) == [r["issue_id"] for r in low]
            first = "document.querySelector('#low-rows tr a')"
            assert await page.evaluate(f"{first}.getAttribute('href')") == low[0]["url"]
            assert await page.evaluate("document.querySelector('#kpi-ratings').textContent") == "32"
            assert await page.evaluate("document.querySelector('#chart-assignees') && "
                                       "Chart.getChart(document.querySelector('#chart-assignees')).data.labels[0]"
                                       ) == f"{doc['assignees']['items'][0]['name']} · {doc['assignees']['items'][0]['ratings_count']}"

            # A new low rating: the page shows it without a reload.
            await page.evaluate("window.__sameDocument = true")
            fresh = issue_plan(37) | {"score": 1, "reason": "Долго", "type": "printer"}
            feed(feeder, issue_records(fresh))
            await page.wait_for(
                f"document.querySelector('#low-rows tr')?.dataset.issueId === '{fresh['issue']}'", timeout=20)
            title = await page.evaluate("document.querySelector('#low-rows td.title').textContent")
            assert title == "Принтер <HP> не печатает & мигает (2037)"  # as text, not HTML
            assert await page.evaluate("document.querySelector('#low-rows hp')") is None
            await page.wait_for("Chart.getChart(document.querySelector('#chart-scores')).data.datasets[0].data[0]"
                                f" === {doc['scores']['counts'][0] + 1}", timeout=20)
            assert await page.evaluate("window.__sameDocument") is True
            doc = await data_when(port, lambda d: d["totals"]["ratings_count"] == 33)
            await check_charts(page, doc)

            height = await page.evaluate("Math.ceil(document.documentElement.scrollHeight)")
            await page.send("Emulation.setDeviceMetricsOverride", width=1440, height=height,
                            deviceScaleFactor=1, mobile=False)
            await asyncio.sleep(0.5)  # the charts follow the resize
            await page.screenshot(ARTIFACTS / "dashboard.png")
            assert [e for e in page.errors if "status of 401" not in e] == []  # 401: the login form


CHARTS = {  # canvas id -> (dataset index -> the data's path)
    "chart-scores": [lambda d: d["scores"]["counts"]],
    "chart-days": [lambda d: d["days"]["ratings_count"], lambda d: d["days"]["ratings_average"]],
    "chart-weeks": [lambda d: d["weeks"]["ratings_count"], lambda d: d["weeks"]["ratings_average"]],
    "chart-response": [lambda d: d["weeks"]["response_rate"]],
    "chart-assignees": [lambda d: [i["ratings_average"] for i in d["assignees"]["items"]]],
    "chart-groups": [lambda d: [i["ratings_average"] for i in d["groups"]["items"]]],
    "chart-companies": [lambda d: [i["ratings_average"] for i in d["companies"]["items"]]],
    "chart-resolution": [lambda d: [b["count"] for b in d["resolution_time"]["buckets"]]],
    "chart-types": [lambda d: d["types"]["issues"], lambda d: d["types"]["low_ratings"]],
    "chart-reasons": [lambda d: d["reasons"]["counts"]],
}

# Non-transparent pixels of a canvas (Chart.js draws on a transparent one), and its size.
PIXELS_JS = """(() => {
  const c = document.getElementById(%r);
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
  return [n, c.width * c.height];
})()"""


async def check_charts(page, doc: dict[str, Any]) -> None:
    """Each chart holds exactly the data the endpoint gave, and drew something."""
    for canvas, paths in CHARTS.items():
        got = await page.wait_for(
            f"(c => c && c.data.datasets.map(d => d.data))(Chart.getChart(document.getElementById('{canvas}')))")
        assert got == [path(doc) for path in paths], canvas
        assert any(v for v in got[0]), f"{canvas}: nothing to draw"
        drawn, area = await page.evaluate(PIXELS_JS % canvas)
        assert drawn > area * 0.01, f"{canvas}: {drawn} of {area} pixels drawn"


# -- the pieces, without the broker -------------------------------------------------------------


def test_calendar_windows_and_histogram():
    assert day_keys(["2026-11-30", "2026-12-02"]) == ["2026-11-30", "2026-12-01", "2026-12-02"]
    assert len(day_keys([f"2026-{m:02d}-01" for m in range(1, 13)])) == 31  # the last 31 days
    assert week_keys(["2026-W52", "2027-W02"]) == ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]
    assert day_keys([]) == [] and week_keys([]) == []
    assert histogram({}) == []
    assert [(b["label"], b["count"]) for b in histogram({"300": 2, "1800": 1})] == [
        ("≤ 5 min", 2), ("≤ 15 min", 0), ("≤ 30 min", 1)]
    assert histogram({"inf": 1})[-1] == {"le": None, "label": "> 30 d", "count": 1}


def test_a_worker_without_figures_yet_gives_an_empty_document():
    doc = dashboard_document({}, TailView([], Names(), False), None)
    assert doc["totals"] == {"ratings_count": 0, "ratings_average": None, "low_count": 0}
    assert doc["scores"]["counts"] == [0] * 5 and doc["days"]["labels"] == [] == doc["weeks"]["labels"]
    assert doc["assignees"] == {"total": 0, "items": []} and doc["resolution_time"]["buckets"] == []
    assert doc["low_ratings"] == {"complete": False, "items": []} and doc["updated_at"] is None


def test_low_ratings_tail_keeps_the_newest_and_leaves_forgotten_contacts_out():
    tail = LowRatingsTail("unused:9092", "rec", "links", keep=30)
    at = datetime(2026, 11, 1, tzinfo=UTC)
    for n in range(100):  # out of time order, as partitions interleave
        m = (n * 37) % 100
        tail._take("rec", encode(RatingRecorded(
            event_id=f"e{m}", request_id=f"r{m}", issue_id=str(m), score=1 + m % 4, from_user_id=1,
            update_id=m, requested_at=at, pressed_at=at + timedelta(minutes=m), contact_id=f"c{m % 10}",
            company_id="7", company_name="Acme")))
    tail._take("rec", encode(RatingRecorded(  # a redelivery changes nothing
        event_id="e97", request_id="r97", issue_id="97", score=2, from_user_id=1, update_id=97,
        requested_at=at, pressed_at=at + timedelta(minutes=97), contact_id="c7")))
    tail._take("rec", encode(ReasonRecorded(
        event_id="x", request_id="r97", issue_id="97", score=2, reason_code="Долго", from_user_id=1,
        update_id=1, given_at=at)))
    tail._take("links", encode(link_record("c9", "forgotten", "forget")))
    tail._take("rec", b"not avro")
    lows = [m for m in range(100) if 1 + m % 4 <= 2]
    with tail._lock:
        shown = sorted((r for r in tail._low.values() if r.contact_id not in tail._forgotten),
                       key=lambda r: r.order, reverse=True)
    assert len(tail._low) == 30 and min(int(r.issue_id) for r in tail._low.values()) == sorted(lows)[-30]
    assert [int(r.issue_id) for r in shown] == [m for m in sorted(lows, reverse=True)[:30] if m % 10 != 9]
    assert tail._low["r97"].reasons == ("Долго",) and tail._names.company == {"7": "Acme"}
