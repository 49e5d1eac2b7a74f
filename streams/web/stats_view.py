"""`GET /stats` on the worker's web port: the latest snapshot of every dimension (JSON), or of one
(`?dimension=company:17`), guarded by `ADMIN_TOKEN` when it is set.

Whichever worker answers gives the complete figures: the view reads the compacted `rating.stats`
topic (every partition, no consumer group; `streams.web.stats_reader`), not its own share of the
`stats` table. The reader is incremental: each request first catches up to the topic's current
end, then answers, so a snapshot published before the request is always in the answer.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from base.names import group as deployment_group
from schemas.records import StatsSnapshot
from schemas.topics import RATING_STATS
from streams.stats.snapshot import as_json
from streams.web.stats_reader import StatsReader, read_for

if TYPE_CHECKING:
    from streams.app import StreamsApp


def stats_document(latest: dict[str, StatsSnapshot], dimension: str | None) -> tuple[int, dict[str, Any]]:
    if dimension is not None:
        snap = latest.get(dimension)
        if snap is None:
            return 404, {"error": "unknown dimension", "dimension": dimension}
        return 200, as_json(snap)
    return 200, {"dimensions": {dim: as_json(latest[dim]) for dim in sorted(latest)}}


def register(app: StreamsApp) -> None:
    if app.config.web_port is None:
        return
    import faust.web

    from streams.web import dashboard_view
    from streams.web.gate import Gate
    from streams.web.login_limit import LoginLimit

    reader = StatsReader(app.config.bootstrap, RATING_STATS.full_name(app.settings),
                         group=deployment_group(app.settings, "stats-view"))
    settings = app.settings
    gate = Gate(settings.admin_token, LoginLimit(settings.dashboard_login_failures,
                                                 settings.dashboard_login_window.total_seconds()),
                on=app.metrics.logins)

    @app.faust.page("/stats")
    class StatsView(faust.web.View):
        async def get(self, request: faust.web.Request) -> faust.web.Response:
            refused = gate.refusal(self, request, lambda: self.json({"error": "unauthorised"}, status=401,
                                                                    headers={"WWW-Authenticate": "Bearer"}))
            if refused is not None:
                return refused
            latest, unavailable = await read_for(self, reader, "GET /stats")
            if latest is None:
                return unavailable
            status, doc = stats_document(latest, request.query.get("dimension"))
            return self.json(doc, status=status)

    @app.faust.service
    class StatsReaderCloser(faust.Service):
        async def on_stop(self) -> None:
            await asyncio.to_thread(reader.close)

    dashboard_view.register(app, reader, gate)  # /dashboard and /stats.csv, sharing this reader and gate
