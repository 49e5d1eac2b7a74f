"""`okrate streams`: one Faust worker of the streams application."""

from __future__ import annotations

from pathlib import Path

from okrate.names import streams_app_id, streams_data_dir
from okrate.settings import Settings
from streams.app import StreamsConfig, create_app


def run_worker(settings: Settings, bootstrap: str, *, data_dir: Path | None = None, web_port: int | None = None) -> None:
    app = create_app(StreamsConfig(
        settings=settings, bootstrap=bootstrap, data_dir=data_dir or streams_data_dir(settings),
        web_port=web_port or settings.stats_port, store=settings.streams_store, app_id=streams_app_id(settings),
    ))
    worker = app.faust.Worker(loglevel=settings.log_level.lower(), quiet=True)
    worker.execute_from_commandline()
