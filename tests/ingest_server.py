"""The ingest served from a background thread over real HTTP, for synchronous test clients
(hypothesis, schemathesis)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from base.publisher import KafkaPublisher
from base.settings import Settings
from ingest.app import create_app


@contextmanager
def ingest_in_thread(settings: Settings, bootstrap: str) -> Iterator[int]:
    """Yields the port the ingest listens on (127.0.0.1)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict = {}

    async def start() -> None:
        state["publisher"] = KafkaPublisher(bootstrap)
        runner = web.AppRunner(create_app(settings, state["publisher"]))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        state["runner"] = runner
        state["port"] = runner.addresses[0][1]

    def run() -> None:
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(30)
    try:
        yield state["port"]
    finally:
        asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop).result(30)
        asyncio.run_coroutine_threadsafe(state["publisher"].close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
