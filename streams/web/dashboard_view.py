"""`GET /dashboard` and `GET /stats.csv` on the streams worker's web port (`STATS_PORT`).

The dashboard is a static page (`streams/web/static/`: HTML, CSS, JavaScript, and Chart.js
vendored in `static/vendor/`, no CDN) that fetches `GET /dashboard/data` every few seconds and
redraws its charts in place. Everything it shows comes from two places:

- the snapshots of the compacted `rating.stats` topic (the same `StatsReader` as `GET /stats`, so
  any worker answers with the complete figures): scores, days and weeks, assignees, groups,
  companies, response rate, resolution time, problem types and low-score reasons;
- the latest low ratings (score <= 2), which no snapshot holds: `LowRatingsTail` reads
  `rating.recorded` (and `contact.links`, for forgotten contacts) incrementally, keeping only the
  newest `KEEP_LOW` low ratings and the names of companies, assignees, groups and issue types.
  Each data request first catches up for at most `TAIL_BUDGET` seconds (a warm-up runs when the
  worker starts), so a long topic never holds a request for long: `low_ratings.complete` says
  whether the tail reached the topic's end. Contacts ever forgotten are left out, and no client's
  personal data is shown at all (no contact, no Telegram user): issue, title, company, assignee,
  group, type, score, reason codes, time.

`ADMIN_TOKEN`, when set, guards every route but the static files (which hold no data): a bearer
header, or the login form at `/dashboard/login` that sets an HttpOnly, SameSite=Strict cookie
derived from the token (never the token itself). `GET /dashboard` without either answers 401
with the login form; `GET /dashboard/data` and `GET /stats.csv` answer 401 JSON. Failed logins
are limited per client address (`Gate`, streams.web.login_limit): 429 with `Retry-After`.

Routes: `GET /dashboard`, `GET /dashboard/data` (JSON, ETag / If-None-Match -> 304),
`GET|POST /dashboard/login`, `POST /dashboard/logout`, `GET /dashboard/static/...`,
`GET /stats.csv` (`base.export.STATS_COLUMNS`, one row per dimension, sorted).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import io
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from base.export import STATS_COLUMNS, stats_rows, write_rows
from base.names import group as deployment_group
from schemas.codec import DecodeError, decode
from schemas.records import ContactLink, RatingRecorded, ReasonRecorded, StatsSnapshot
from schemas.topics import CONTACT_LINKS, RATING_RECORDED
from streams.stats.facts import FREE_TEXT_REASON
from streams.stats.fold import BUCKET_BOUNDS
from streams.web.login_limit import LoginLimit, token_matches

if TYPE_CHECKING:
    from streams.app import StreamsApp
    from streams.web.stats_view import StatsReader

log = logging.getLogger("okrate.streams.web")

STATIC_DIR = Path(__file__).with_name("static")
SESSION_COOKIE = "okrate_dashboard_session"
LOW_SCORE = 2  # a "low rating": this score or less
LATEST_LOW = 20  # low ratings shown
KEEP_LOW = 200  # low ratings kept in memory (some may belong to contacts forgotten later)
DAYS = 31  # days shown, ending at the latest day with figures
WEEKS = 26
TOP_ENTITIES = 12  # assignees, groups, companies shown (most ratings first)
REFRESH_SECONDS = 5
TAIL_BUDGET = 2.0  # seconds a data request may spend catching up on `rating.recorded`
READ_EVERY = 1.0  # seconds: data requests closer together share one read of the topics

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


# -- the admin token ---------------------------------------------------------------------------


def session_value(token: str) -> str:
    """What the cookie holds: derived from the token, so that the cookie never reveals it."""
    return hmac.new(token.encode(), b"okrate dashboard session", hashlib.sha256).hexdigest()


def allowed(headers: Any, cookies: Any, token: str | None) -> bool:
    """No token configured: open. Otherwise `Authorization: Bearer <token>` or the login cookie,
    compared in constant time."""
    if not token:
        return True
    scheme, _, given = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token_matches(given.strip(), token):
        return True
    cookie = cookies.get(SESSION_COOKIE) or ""
    return bool(cookie) and token_matches(cookie, session_value(token))


def credentials_given(headers: Any, cookies: Any) -> bool:
    """A bearer header or a session cookie: a wrong one is a failed login."""
    return bool(headers.get("Authorization")) or bool(cookies.get(SESSION_COOKIE))


class Gate:
    """The admin token in front of every view, with failed logins limited per client address
    (streams.web.login_limit). `check` answers (allowed, seconds to wait when limited)."""

    def __init__(self, token: str | None, limit: LoginLimit, on: Any = None, clock=time.monotonic):
        self.token, self.limit, self.clock = token, limit, clock
        self.on = on  # a Counter by outcome (`failed`, `limited`), or None

    def _count(self, outcome: str) -> None:
        if self.on is not None:
            self.on.labels(outcome).inc()

    def limited(self, request: Any) -> int | None:
        if not self.token:
            return None
        wait = self.limit.retry_after(request.remote or "?", self.clock())
        if wait is not None:
            self._count("limited")
        return wait

    def failed(self, request: Any) -> None:
        self.limit.failed(request.remote or "?", self.clock())
        self._count("failed")

    def check(self, request: Any) -> tuple[bool, int | None]:
        wait = self.limited(request)
        if wait is not None:
            return False, wait
        if allowed(request.headers, request.cookies, self.token):
            return True, None
        if credentials_given(request.headers, request.cookies):
            self.failed(request)
        return False, None

    def login(self, request: Any, given: str) -> tuple[bool, int | None]:
        """The login form's token."""
        wait = self.limited(request)
        if wait is not None:
            return False, wait
        if self.token and token_matches(given, self.token):
            self.limit.succeeded(request.remote or "?")
            return True, None
        self.failed(request)
        return False, None


def too_many(view: Any, wait: int) -> Any:
    return view.json({"error": f"too many failed logins from this address: try again in {wait} s"}, status=429,
                     headers={"Retry-After": str(wait), "Cache-Control": "no-store"})


def local_path(value: str | None, default: str = "/dashboard") -> str:
    """A redirect target after login: a path on this site only."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    return value


def login_page(next_path: str, error: str | None = None) -> str:
    message = f'<p class="login-error" role="alert">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>okrate · dashboard · login</title>
<link rel="stylesheet" href="/dashboard/static/dashboard.css">
<link rel="icon" href="/dashboard/static/favicon.svg" type="image/svg+xml"></head>
<body class="login-body"><form class="login" method="post" action="/dashboard/login">
<h1>okrate dashboard</h1><p>The dashboard shows ratings, issues, companies and assignees.
Enter the <code>ADMIN_TOKEN</code> to continue.</p>{message}
<input type="hidden" name="next" value="{html.escape(local_path(next_path))}">
<label>Admin token <input type="password" name="token" autocomplete="current-password"
autofocus required></label><button type="submit">Log in</button></form></body></html>"""


# -- the latest low ratings: a tail of `rating.recorded` ------------------------------------------


@dataclass(frozen=True)
class LowRating:
    request_id: str
    issue_id: str
    score: int
    rated_at: datetime
    contact_id: str | None  # to leave forgotten contacts out; never shown
    title: str | None = None
    type_code: str | None = None
    company_id: str | None = None
    assignee_id: str | None = None
    group_id: str | None = None
    reasons: tuple[str, ...] = ()

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.rated_at, self.request_id)


@dataclass
class Names:
    """Display names seen on recorded ratings (the snapshots carry only ids)."""

    company: dict[str, str] = field(default_factory=dict)
    assignee: dict[str, str] = field(default_factory=dict)
    group: dict[str, str] = field(default_factory=dict)
    type: dict[str, str] = field(default_factory=dict)

    def take(self, r: RatingRecorded) -> None:
        for table, key, name in ((self.company, r.company_id, r.company_name),
                                 (self.assignee, r.assignee_employee_id, r.assignee_employee_name),
                                 (self.group, r.assignee_group_id, r.assignee_group_name),
                                 (self.type, r.type_code, r.type_name)):
            if key and name:
                table[key] = name

    def copy(self) -> Names:
        return Names(dict(self.company), dict(self.assignee), dict(self.group), dict(self.type))


@dataclass(frozen=True)
class TailView:
    low: list[LowRating]  # newest first, forgotten contacts left out, at most LATEST_LOW
    names: Names
    complete: bool  # the tail had reached the end of its topics (as of the request)


class LowRatingsTail:
    """The newest low ratings of `rating.recorded`, and the contacts forgotten in `contact.links`:
    an incremental reader (every partition, no consumer group) caught up on demand."""

    def __init__(self, bootstrap: str, recorded_topic: str, links_topic: str,
                 keep: int = KEEP_LOW, timeout: float = 10.0, group: str = "okrate-dashboard"):
        self.bootstrap, self.timeout, self.keep = bootstrap, timeout, keep
        self.group = group  # the deployment's (`base.names.group`); a random tail is added
        self.topics = (recorded_topic, links_topic)
        self._lock = threading.Lock()
        self._consumer: Consumer | None = None
        self._next: dict[tuple[str, int], int] = {}
        self._low: dict[str, LowRating] = {}  # request id -> rating
        self._floor: tuple[datetime, str] | None = None  # everything at or below was evicted
        self._forgotten: set[str] = set()
        self._names = Names()
        self._complete = False

    def _start(self) -> Consumer:
        consumer = Consumer({
            "bootstrap.servers": self.bootstrap,
            "group.id": f"{self.group}-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False, "enable.partition.eof": False, "log_level": 3,
        })
        assignment = []
        for topic in self.topics:
            meta = consumer.list_topics(topic, timeout=self.timeout).topics[topic]
            for partition in sorted(meta.partitions):
                assignment.append(TopicPartition(topic, partition, OFFSET_BEGINNING))
                self._next[(topic, partition)] = 0
        consumer.assign(assignment)
        return consumer

    def read(self, budget: float = TAIL_BUDGET, latest: int = LATEST_LOW) -> TailView:
        """Catches up towards the topics' ends (as of now) for at most `budget` seconds."""
        with self._lock:
            if self._consumer is None:
                self._consumer = self._start()
            consumer = self._consumer
            ends: dict[tuple[str, int], int] = {}
            for (topic, partition), next_offset in self._next.items():
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=self.timeout, cached=False)
                ends[(topic, partition)] = high
                self._next[(topic, partition)] = max(next_offset, low)
            deadline = time.monotonic() + budget
            while True:
                behind = any(self._next[tp] < ends[tp] for tp in ends)
                if not behind or time.monotonic() >= deadline:
                    break
                for msg in consumer.consume(500, timeout=min(0.5, budget)):
                    if msg.error():
                        continue
                    self._next[(msg.topic(), msg.partition())] = msg.offset() + 1
                    self._take(msg.topic(), msg.value())
            self._complete = not behind
            shown = sorted((r for r in self._low.values() if r.contact_id not in self._forgotten),
                           key=lambda r: r.order, reverse=True)[:latest]
            return TailView(shown, self._names.copy(), self._complete)

    def _take(self, topic: str, value: bytes | None) -> None:
        if value is None:
            return
        try:
            record = decode(value)
        except DecodeError:
            return  # the dead-letter topic tells about these
        if topic == self.topics[1]:
            if isinstance(record, ContactLink) and record.state == "forgotten":
                self._forgotten.add(record.contact_id)
            return
        if isinstance(record, RatingRecorded):
            self._names.take(record)
            if record.score <= LOW_SCORE and record.request_id not in self._low:
                self._add(LowRating(
                    request_id=record.request_id, issue_id=record.issue_id, score=record.score,
                    rated_at=record.pressed_at, contact_id=record.contact_id, title=record.title,
                    type_code=record.type_code, company_id=record.company_id,
                    assignee_id=record.assignee_employee_id, group_id=record.assignee_group_id))
        elif isinstance(record, ReasonRecorded):
            rating = self._low.get(record.request_id)
            code = record.reason_code or FREE_TEXT_REASON  # as the statistics count it
            if rating is not None and code not in rating.reasons:
                self._low[record.request_id] = replace(rating, reasons=(*rating.reasons, code))

    def _add(self, rating: LowRating) -> None:
        if self._floor is not None and rating.order <= self._floor:
            return  # older than what was already evicted (or an evicted one redelivered)
        self._low[rating.request_id] = rating
        if len(self._low) > self.keep:
            oldest = min(self._low.values(), key=lambda r: r.order)
            del self._low[oldest.request_id]
            self._floor = oldest.order

    def close(self) -> None:
        with self._lock:
            if self._consumer is not None:
                self._consumer.close()
                self._consumer = None


# -- the dashboard's data ----------------------------------------------------------------------


def iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def duration_label(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


BUCKETS: tuple[tuple[str, int | None, str], ...] = (
    *((str(b), b, f"≤ {duration_label(b)}") for b in BUCKET_BOUNDS),
    ("inf", None, f"> {duration_label(BUCKET_BOUNDS[-1])}"),
)


def histogram(counts: dict[str, int]) -> list[dict[str, Any]]:
    """The snapshot's buckets from the first to the last one used (empty ones between: 0)."""
    used = [i for i, (key, _, _) in enumerate(BUCKETS) if counts.get(key)]
    if not used:
        return []
    return [{"le": le, "label": label, "count": counts.get(key, 0)}
            for key, le, label in BUCKETS[used[0]:used[-1] + 1]]


def durations(snap: StatsSnapshot | None, kind: str) -> dict[str, Any]:
    if snap is None:
        return {"count": 0, "p50_seconds": None, "p90_seconds": None, "buckets": []}
    return {"count": getattr(snap, f"{kind}_time_count"),
            "p50_seconds": getattr(snap, f"{kind}_time_p50_seconds"),
            "p90_seconds": getattr(snap, f"{kind}_time_p90_seconds"),
            "buckets": histogram(getattr(snap, f"{kind}_time_buckets"))}


def low_count(snap: StatsSnapshot) -> int:
    return sum(snap.score_counts.get(str(s), 0) for s in range(1, LOW_SCORE + 1))


def _series(keys: list[str], latest: dict[str, StatsSnapshot], prefix: str) -> dict[str, list[Any]]:
    snaps = [latest.get(f"{prefix}:{key}") for key in keys]
    return {
        "labels": keys,
        "ratings_count": [s.ratings_count if s else 0 for s in snaps],
        "ratings_average": [s.ratings_average if s else None for s in snaps],
        "low_count": [low_count(s) if s else 0 for s in snaps],
        "requests_sent": [s.requests_sent if s else 0 for s in snaps],
        "response_rate": [s.response_rate if s else None for s in snaps],
    }


def day_keys(present: Iterable[str], n: int = DAYS) -> list[str]:
    """`n` consecutive days ending at the latest one present (not before the first present)."""
    days = sorted(date.fromisoformat(k) for k in present)
    if not days:
        return []
    start = max(days[0], days[-1] - timedelta(days=n - 1))
    return [(start + timedelta(days=i)).isoformat() for i in range((days[-1] - start).days + 1)]


def week_keys(present: Iterable[str], n: int = WEEKS) -> list[str]:
    """`n` consecutive ISO weeks (`2026-W48`) ending at the latest one present."""
    mondays = sorted(date.fromisocalendar(int(k[:4]), int(k[6:]), 1) for k in present)
    if not mondays:
        return []
    start = max(mondays[0], mondays[-1] - timedelta(weeks=n - 1))
    out = []
    for i in range((mondays[-1] - start).days // 7 + 1):
        year, week, _ = (start + timedelta(weeks=i)).isocalendar()
        out.append(f"{year}-W{week:02d}")
    return out


def entities(latest: dict[str, StatsSnapshot], prefix: str, names: dict[str, str],
             n: int = TOP_ENTITIES) -> dict[str, Any]:
    """The `n` with the most ratings (then requests, then id) of one kind of dimension."""
    found = [(dim.partition(":")[2], snap) for dim, snap in latest.items()
             if dim.startswith(prefix + ":")]
    found.sort(key=lambda item: (-item[1].ratings_count, -item[1].requests_sent, item[0]))
    items = [{"id": key, "name": names.get(key), "ratings_count": s.ratings_count,
              "ratings_average": s.ratings_average, "low_count": low_count(s),
              "requests_sent": s.requests_sent, "response_rate": s.response_rate}
             for key, s in found[:n]]
    return {"total": len(found), "items": items}


def issue_url(portal: str | None, issue_id: str) -> str | None:
    if not portal:
        return None
    return f"{portal.rstrip('/')}/issues/{quote(issue_id, safe='')}"


def dashboard_document(latest: dict[str, StatsSnapshot], tail: TailView, portal: str | None,
                       now: datetime | None = None) -> dict[str, Any]:
    """Everything the page shows (`GET /dashboard/data`)."""
    every = latest.get("all")
    names = tail.names
    totals: dict[str, Any] = {"ratings_count": 0, "ratings_average": None, "low_count": 0}
    if every is not None:
        totals = {
            "ratings_count": every.ratings_count, "ratings_average": every.ratings_average,
            "low_count": low_count(every), "response_rate": every.response_rate,
            "requests_sent": every.requests_sent, "requests_delivered": every.requests_delivered,
            "requests_undeliverable": every.requests_undeliverable,
            "requests_reminded": every.requests_reminded, "requests_expired": every.requests_expired,
            "requests_closed": dict(every.requests_closed),
            "portal_rate_counts": dict(every.portal_rate_counts),
            "events_counted": every.events_counted,
        }
    days = day_keys(d[4:] for d in latest if d.startswith("day:"))
    weeks = week_keys(d[5:] for d in latest if d.startswith("week:"))
    top_types = dict(every.top_types) if every else {}
    low_types = dict(every.top_low_score_types) if every else {}
    type_codes = list(top_types) + [code for code in low_types if code not in top_types]
    return {
        "generated_at": iso(now or datetime.now(UTC)),
        "updated_at": iso(every.updated_at) if every else None,
        "refresh_seconds": REFRESH_SECONDS,
        "portal_url": portal,
        "low_score": LOW_SCORE,
        "totals": totals,
        "scores": {"labels": ["1", "2", "3", "4", "5"],
                   "counts": [every.score_counts.get(s, 0) if every else 0 for s in "12345"]},
        "days": _series(days, latest, "day"),
        "weeks": _series(weeks, latest, "week"),
        "assignees": entities(latest, "assignee", names.assignee),
        "groups": entities(latest, "group", names.group),
        "companies": entities(latest, "company", names.company),
        "resolution_time": durations(every, "resolution"),
        "reaction_time": durations(every, "reaction"),
        "types": {"labels": type_codes, "names": [names.type.get(c) for c in type_codes],
                  "issues": [top_types.get(c, 0) for c in type_codes],
                  "low_ratings": [low_types.get(c, 0) for c in type_codes]},
        "reasons": {"labels": list(every.top_reasons) if every else [],
                    "counts": list(every.top_reasons.values()) if every else []},
        "low_ratings": {
            "complete": tail.complete,
            "items": [{
                "issue_id": r.issue_id, "url": issue_url(portal, r.issue_id), "title": r.title,
                "score": r.score, "rated_at": iso(r.rated_at), "reasons": list(r.reasons),
                "type_code": r.type_code, "type_name": names.type.get(r.type_code or ""),
                "company_id": r.company_id, "company_name": names.company.get(r.company_id or ""),
                "assignee_id": r.assignee_id,
                "assignee_name": names.assignee.get(r.assignee_id or ""),
                "group_id": r.group_id, "group_name": names.group.get(r.group_id or ""),
            } for r in tail.low],
        },
    }


def stats_csv(latest: dict[str, StatsSnapshot]) -> str:
    """Every dimension as a spreadsheet: `okrate export stats`'s columns and rows."""
    out = io.StringIO()
    write_rows(stats_rows(latest.values()), STATS_COLUMNS, "csv", out)
    return out.getvalue()


# -- the views ---------------------------------------------------------------------------------


def register(app: StreamsApp, reader: StatsReader, gate: Gate) -> None:
    """The dashboard's routes on the worker's web server (called by `stats_view.register`, which
    shares its `rating.stats` reader and its gate)."""
    if app.config.web_port is None:
        return
    import faust
    import faust.web

    settings = app.settings
    token = settings.admin_token
    portal = settings.okdesk_portal_url
    tail = LowRatingsTail(app.config.bootstrap, RATING_RECORDED.full_name(settings),
                          CONTACT_LINKS.full_name(settings), group=deployment_group(settings, "dashboard"))
    index_html = (STATIC_DIR / "dashboard.html").read_text(encoding="utf-8")
    last_read: dict[str, Any] = {}  # "at" (monotonic), "latest", "view": shared by close requests
    read_lock = asyncio.Lock()

    async def read_topics() -> tuple[dict[str, StatsSnapshot], TailView]:
        """Both topics caught up, at most once per READ_EVERY however many pages poll."""
        async with read_lock:
            if last_read and time.monotonic() - last_read["at"] < READ_EVERY:
                return last_read["latest"], last_read["view"]
            latest, view = await asyncio.gather(asyncio.to_thread(reader.read),
                                                asyncio.to_thread(tail.read))
            last_read.update(at=time.monotonic(), latest=latest, view=view)
            return latest, view

    def unauthorised_json(view: faust.web.View) -> faust.web.Response:
        return view.json({"error": "this endpoint requires the admin token (Authorization: Bearer …)"},
                         status=401, headers={"WWW-Authenticate": 'Bearer realm="okrate"',
                                              "Cache-Control": "no-store"})

    def redirect(view: faust.web.View, location: str) -> faust.web.Response:
        return view.text("", status=303, headers={"Location": location, "Cache-Control": "no-store"})

    @app.faust.page("/dashboard")
    class DashboardPage(faust.web.View):
        async def get(self, request: faust.web.Request) -> faust.web.Response:
            ok, wait = gate.check(request)
            if wait is not None:
                return too_many(self, wait)
            if not ok:
                return self.html(login_page(str(request.rel_url)), status=401, headers=PAGE_HEADERS)
            page = index_html.replace("{{protected}}", "true" if token else "false")
            return self.html(page, headers=PAGE_HEADERS)

    @app.faust.page("/dashboard/data")
    class DashboardData(faust.web.View):
        async def get(self, request: faust.web.Request) -> faust.web.Response:
            ok, wait = gate.check(request)
            if wait is not None:
                return too_many(self, wait)
            if not ok:
                return unauthorised_json(self)
            try:
                latest, view = await read_topics()
            except Exception as exc:
                log.exception("GET /dashboard/data: the topics could not be read")
                return self.json({"error": f"statistics unavailable: {type(exc).__name__}"},
                                 status=503, headers={"Cache-Control": "no-store"})
            doc = dashboard_document(latest, view, portal)
            # The ETag leaves out the wall clock: unchanged figures answer 304.
            body = json.dumps({k: v for k, v in doc.items() if k != "generated_at"},
                              sort_keys=True, ensure_ascii=False).encode()
            etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
            headers = {"ETag": etag, "Cache-Control": "no-cache"}
            if request.headers.get("If-None-Match") == etag:
                return self.bytes(b"", status=304, headers=headers)
            return self.json(doc, headers=headers)

    @app.faust.page("/dashboard/login")
    class DashboardLogin(faust.web.View):
        async def get(self, request: faust.web.Request) -> faust.web.Response:
            next_path = local_path(request.query.get("next"))
            if allowed(request.headers, request.cookies, token):
                return redirect(self, next_path)
            return self.html(login_page(next_path), headers=PAGE_HEADERS)

        async def post(self, request: faust.web.Request) -> faust.web.Response:
            form = await request.post()  # type: ignore[attr-defined]  # aiohttp underneath
            next_path = local_path(str(form.get("next") or ""))
            if not token:
                return redirect(self, next_path)
            ok, wait = gate.login(request, str(form.get("token") or ""))
            if wait is not None:
                return too_many(self, wait)
            if not ok:
                return self.html(login_page(next_path, "Wrong token."), status=401,
                                 headers=PAGE_HEADERS)
            response = redirect(self, next_path)
            response.set_cookie(SESSION_COOKIE, session_value(token), httponly=True,  # type: ignore[attr-defined]
                                samesite="Strict", secure=request.secure, path="/")  # type: ignore[attr-defined]
            return response

    @app.faust.page("/dashboard/logout")
    class DashboardLogout(faust.web.View):
        async def post(self, request: faust.web.Request) -> faust.web.Response:
            response = redirect(self, "/dashboard/login" if token else "/dashboard")
            response.del_cookie(SESSION_COOKIE, path="/")  # type: ignore[attr-defined]
            return response

    @app.faust.page("/stats.csv")
    class StatsCsv(faust.web.View):
        async def get(self, request: faust.web.Request) -> faust.web.Response:
            ok, wait = gate.check(request)
            if wait is not None:
                return too_many(self, wait)
            if not ok:
                return unauthorised_json(self)
            try:
                latest = await asyncio.to_thread(reader.read)
            except Exception as exc:
                log.exception("GET /stats.csv: rating.stats could not be read")
                return self.json({"error": f"statistics unavailable: {type(exc).__name__}"}, status=503)
            return self.bytes(stats_csv(latest).encode("utf-8"), headers={
                "Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
                "Content-Disposition": 'attachment; filename="okrate-stats.csv"'})

    app.faust.web.add_static("/dashboard/static/", STATIC_DIR, show_index=False,
                             follow_symlinks=False)

    @app.faust.service
    class LowRatingsTailService(faust.Service):
        @faust.Service.task
        async def _warm_up(self) -> None:
            """Reads the tail up to the topics' ends once, so the first visit answers quickly."""
            while not self.should_stop:
                try:
                    view = await asyncio.to_thread(tail.read, TAIL_BUDGET)
                except Exception:
                    log.warning("dashboard: rating.recorded could not be read yet", exc_info=True)
                    await self.sleep(5.0)
                    continue
                if view.complete:
                    return
                await self.sleep(0.1)

        async def on_stop(self) -> None:
            await asyncio.to_thread(tail.close)
