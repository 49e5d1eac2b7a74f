"""`okrate ingest`: the app, served, with a graceful stop (nothing answered 200 is lost)."""

from __future__ import annotations

import gc
import logging
import os

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from base.publisher import KafkaPublisher
from base.redact import mask_url
from base.settings import Settings
from ingest.app import METRICS, PUBLISHER, create_app

log = logging.getLogger("okrate.ingest")

GC_YOUNG_THRESHOLD = 20_000


class MaskingAccessLogger(AbstractAccessLogger):
    """One line a request, with the query string's secrets masked (`?token=` carries the secret)."""

    @property
    def enabled(self) -> bool:
        # aiohttp asks before formatting anything: below INFO, a request costs no log work at all.
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request, response, time: float) -> None:
        self.logger.info(
            "%s %s %s %d %dB %.1fms",
            request.remote, request.method, mask_url(request.path_qs), response.status,
            response.body_length, time * 1000,
        )


def build_app(settings: Settings, bootstrap: str) -> web.Application:
    publisher = KafkaPublisher(bootstrap)
    app = create_app(settings, publisher)

    async def close_publisher(app: web.Application) -> None:
        # Runs after the server stopped accepting and in-flight handlers finished.
        await app[PUBLISHER].close()
        app[METRICS].close()

    app.on_cleanup.append(close_publisher)
    if not settings.webhook_secret:
        log.warning("WEBHOOK_SECRET is not set: webhooks are accepted without authentication")
    return app


def serve(settings: Settings, bootstrap: str, *, reuse_port: bool = False) -> None:
    """Serves until SIGTERM/SIGINT. With `reuse_port`, other processes may listen on the same port
    (SO_REUSEPORT: the kernel spreads the connections over them)."""
    app = build_app(settings, bootstrap)
    # Everything loaded so far lives as long as the process: out of the collector's sight, a full
    # collection scans what requests allocate, not the ~57,000 objects of the imports.
    gc.freeze()
    # A request allocates a few hundred objects that die young: at the default threshold (700) a
    # young collection ran every few requests, each scanning the in-flight requests' objects.
    # Measured: 3-4 % of the CPU per answer at saturation.
    gc.set_threshold(GC_YOUNG_THRESHOLD)
    log.info("ingest listening on %s:%d%s, webhook at %s", settings.ingest_host, settings.ingest_port,
             f" (shared, pid {os.getpid()})" if reuse_port else "", settings.webhook_path)
    web.run_app(
        app, host=settings.ingest_host, port=settings.ingest_port, reuse_port=reuse_port or None,
        access_log_class=MaskingAccessLogger, access_log=logging.getLogger("okrate.ingest.access"),
        shutdown_timeout=30, print=None, handle_signals=True,
    )
