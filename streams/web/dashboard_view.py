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
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from base.names import group as deployment_group
from schemas.records import StatsSnapshot
from schemas.topics import CONTACT_LINKS, RATING_RECORDED
from streams.web.dashboard_data import dashboard_document, stats_csv
from streams.web.gate import (
    SESSION_COOKIE,
    Gate,
    allowed,
    local_path,
    login_page,
    session_value,
    too_many,
)
from streams.web.low_ratings import TAIL_BUDGET, LowRatingsTail, TailView
from streams.web.stats_reader import read_for

if TYPE_CHECKING:
    from streams.app import StreamsApp
    from streams.web.stats_reader import StatsReader

log = logging.getLogger("okrate.streams.web")

STATIC_DIR = Path(__file__).with_name("static")
READ_EVERY = 1.0  # seconds: data requests closer together share one read of the topics

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


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
            refused = gate.refusal(self, request, lambda: self.html(login_page(str(request.rel_url)),
                                                                    status=401, headers=PAGE_HEADERS))
            if refused is not None:
                return refused
            page = index_html.replace("{{protected}}", "true" if token else "false")
            return self.html(page, headers=PAGE_HEADERS)

    @app.faust.page("/dashboard/data")
    class DashboardData(faust.web.View):
        async def get(self, request: faust.web.Request) -> faust.web.Response:
            refused = gate.refusal(self, request, lambda: unauthorised_json(self))
            if refused is not None:
                return refused
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
            refused = gate.refusal(self, request, lambda: unauthorised_json(self))
            if refused is not None:
                return refused
            latest, unavailable = await read_for(self, reader, "GET /stats.csv")
            if latest is None:
                return unavailable
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
