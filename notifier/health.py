"""The notifier's `/healthz` and `/metrics` (on NOTIFIER_PORT; open, like every service's)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily

from notifier.telegram.limits import LIMITS

if TYPE_CHECKING:
    from notifier.telegram.polling import Poller


class Notifier(Protocol):
    """What the health views read of a notifier (`notifier.service.Notifier` is one; its log, its
    conversations and its sweep are read when it has them)."""

    started: asyncio.Event
    poller: Poller | None


def role(notifier: Notifier) -> str:
    if notifier.started.is_set():
        return "active"
    return "standby" if notifier.poller is not None and not notifier.poller.active.is_set() else "starting"


class _Limited:
    """Refusals by each per-user limit since start (a counter without `_created`: the registry is
    built afresh at every scrape)."""

    def __init__(self, refused: Mapping[str, int]):
        self.refused = refused

    def collect(self):
        family = CounterMetricFamily("okrate_notifier_limited", "Requests refused by a per-user limit since "
                                     "start, by limit (BOT_NEW_ISSUES_PER_DAY, BOT_PHONE_LINKS_PER_HOUR, "
                                     "BOT_REASON_MAX_CHARS, BOT_REASONS_PER_REQUEST)", labels=["limit"])
        for name in LIMITS:
            family.add_metric([name], self.refused.get(name, 0))
        yield family


def metrics_text(notifier: Notifier) -> bytes:
    registry = CollectorRegistry()
    outcomes = Gauge("okrate_notifier_outcomes", "Side-effect outcomes on notifier.outcomes, by kind and status "
                     "(sent, failed, undeliverable, possible_duplicate, ...)", ["kind", "status"], registry=registry)
    log = getattr(notifier, "outcomes", None)
    for key, count in (log.statuses.items() if log is not None else ()):
        kind, _, status = key.rpartition(":")
        outcomes.labels(kind, status).set(count)
    conversations = getattr(notifier, "conversations", None)
    registry.register(_Limited(conversations.services.refused if conversations is not None else {}))
    active = Gauge("okrate_notifier_active", "1 when this instance is the bot's active notifier", registry=registry)
    active.set(1 if role(notifier) == "active" else 0)
    sweep = getattr(notifier, "sweep", None)
    if sweep is not None:
        f = sweep.figures
        Gauge("okrate_sweep_last_timestamp_seconds", "When the last sweep of the Okdesk API finished (0: none yet)",
              registry=registry).set(f.last_at or 0)
        for name, value, text in (
            ("sweeps", f.sweeps, "Sweeps finished"), ("failures", f.failed, "Sweeps that failed"),
            ("pages", f.pages, "Pages of /issues/list read"), ("issues_seen", f.seen, "Issues the API listed"),
            ("observations", f.appended, "Observations appended to okdesk.events (final, since the floor)"),
            ("known", f.known, "Final issues listed again with the resolution already appended (not appended again)"),
        ):
            Gauge(f"okrate_sweep_{name}", f"{text}, since this notifier became active", registry=registry).set(value)
    return generate_latest(registry)


def create_health_app(notifier: Notifier) -> web.Application:
    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "alive", "role": role(notifier)})

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=metrics_text(notifier), content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app
