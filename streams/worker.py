"""`okrate streams`: one Faust worker of the streams application."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from base.names import streams_app_id, streams_data_dir
from base.settings import Settings
from streams.app import StreamsConfig
from streams.assembly import create_app
from streams.exposure import LOOPBACK, web_exposure

log = logging.getLogger("okrate.streams")


def install_loop(loop: str = "uvloop") -> None:
    """uvloop runs the worker's event loop (`bench streams` measures the gain); `asyncio` keeps
    the standard one."""
    if loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def run_worker(settings: Settings, bootstrap: str, *, data_dir: Path | None = None, web_port: int | None = None) -> None:
    install_loop()
    app = create_app(StreamsConfig(
        settings=settings, bootstrap=bootstrap, data_dir=data_dir or streams_data_dir(settings),
        web_port=web_port or settings.stats_port, store=settings.streams_store, app_id=streams_app_id(settings),
    ))
    exposure = web_exposure(settings)
    say = log.warning if exposure.host == LOOPBACK and not settings.sandbox_mode else log.info
    say("web views on %s:%d (%s)", exposure.host, web_port or settings.stats_port, exposure.why)
    worker = app.faust.Worker(loglevel=settings.log_level.lower(), quiet=True)
    worker.execute_from_commandline()
