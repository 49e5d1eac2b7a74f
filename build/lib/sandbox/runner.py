"""Starting a stand-in: in-process on a free port (tests) or in the foreground (the CLI)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

_BOT_TOKEN = re.compile(r"/bot[^/]+/")
_API_TOKEN = re.compile(r"(api_token=)[^&]*")


def mask_secrets(path_qs: str) -> str:
    """A request line safe to log: Bot API tokens in the path and Okdesk's api_token hidden."""
    return _API_TOKEN.sub(r"\1***", _BOT_TOKEN.sub("/bot***/", path_qs))


class MaskingAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s -> %s (%.0f ms)",
            request.method,
            mask_secrets(request.path_qs),
            response.status,
            time * 1000,
        )


@asynccontextmanager
async def run_app(
    app: web.Application, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve ``app`` until the block ends; yields its base URL, e.g. ``http://127.0.0.1:40123``.

    ``port=0`` picks a free port. Nothing is access-logged.
    """
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, shutdown_timeout=2.0)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()


async def serve(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
    """Serve ``app`` until cancelled, logging requests with their secrets masked."""
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("sandbox.access"),
        access_log_class=MaskingAccessLogger,
        shutdown_timeout=2.0,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, shutdown_timeout=2.0).start()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
