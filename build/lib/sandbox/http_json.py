"""Small JSON helpers for the ``/_sandbox/`` endpoints of both stand-ins."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def reply(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=dumps)


def fail(status: int, message: str) -> web.HTTPException:
    """An exception to raise: aiohttp answers it as ``{"error": message}``."""
    cls = {400: web.HTTPBadRequest, 404: web.HTTPNotFound, 409: web.HTTPConflict}.get(
        status, web.HTTPBadRequest
    )
    return cls(text=dumps({"error": message}), content_type="application/json")


async def body_of(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise fail(400, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise fail(400, "the body must be a JSON object")
    return body


def int_arg(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise fail(404, f"no such {name}") from None
