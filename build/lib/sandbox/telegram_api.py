"""The Bot API stand-in as an aiohttp application: ``/bot{token}/{method}``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.runner import run_app, serve
from sandbox.telegram_errors import ApiError, bad_request, http_error, not_found, unauthorized
from sandbox.telegram_methods import METHODS
from sandbox.telegram_page_api import add_sandbox_routes
from sandbox.telegram_state import TelegramState

STATE = web.AppKey("telegram_state", TelegramState)


async def read_params(request: web.Request) -> dict[str, Any]:
    """Query string plus the body: JSON, urlencoded or multipart (uploaded files are noted,
    not kept)."""
    params: dict[str, Any] = dict(request.query)
    if request.method != "POST" or not request.body_exists:
        return params
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(body, dict):
            raise bad_request("can't parse JSON object")
        params.update(body)
        return params
    form = await request.post()
    for key, value in form.items():
        params[key] = (
            value if isinstance(value, str) else f"<file {getattr(value, 'filename', '')}>"
        )
    return params


async def _handle(request: web.Request) -> web.Response:
    state = request.app[STATE]
    at = state.clock()
    name = request.match_info["method"]
    canonical, method = METHODS.get(name.lower(), (name, None))
    params: dict[str, Any] = {}
    try:
        if not state.token_matches(request.match_info["token"]):
            raise unauthorized()
        params = await read_params(request)
        if delay := state.faults.delay_for(canonical):
            await asyncio.sleep(delay)
        if fault := state.faults.take(canonical):
            raise http_error(fault.status, fault.retry_after)
        if method is None:
            raise not_found()
        body: dict[str, Any] = {"ok": True, "result": await method(state, params)}
        status = 200
    except ApiError as e:
        body, status = e.body(), e.code
    state.record_call(canonical, params, at, status, body)
    return web.json_response(body, status=status, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


async def _on_shutdown(app: web.Application) -> None:
    await app[STATE].close()


def create_telegram_app(state: TelegramState | None = None) -> web.Application:
    """The Bot API at ``/bot{token}/{method}`` plus the user's side under ``/_sandbox/``."""
    app = web.Application()
    app[STATE] = state or TelegramState()
    app.router.add_route("*", "/bot{token:[^/]+}/{method:[^/]+}", _handle)
    add_sandbox_routes(app, app[STATE])
    app.on_shutdown.append(_on_shutdown)
    return app


@dataclass(frozen=True)
class RunningTelegram:
    """A started stand-in. Point aiogram at it with
    ``AiohttpSession(api=TelegramAPIServer.from_base(running.base_url))``."""

    state: TelegramState
    base_url: str

    @property
    def token(self) -> str:
        return self.state.token

    def method_url(self, method: str) -> str:
        return f"{self.base_url}/bot{self.state.token}/{method}"


@asynccontextmanager
async def running_telegram(
    state: TelegramState | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningTelegram]:
    """Run the Bot API stand-in for the duration of the block (a free port by default)."""
    state = state or TelegramState()
    async with run_app(create_telegram_app(state), host, port) as base_url:
        yield RunningTelegram(state, base_url)


async def serve_telegram(
    state: TelegramState | None = None, host: str = "127.0.0.1", port: int = 8081
) -> None:
    """Serve the Bot API stand-in until cancelled (for the CLI)."""
    await serve(create_telegram_app(state), host, port)
