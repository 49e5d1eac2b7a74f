"""A malformed request is the client's fault: one WARNING line in okrate's logs, no traceback,
however aiohttp reports it; other errors keep their traceback."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
from aiohttp import web

from base.logs import MalformedRequestFilter, RedactingFilter


@pytest.fixture
def captured():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MalformedRequestFilter())
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


async def _raw(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(200), 10)
    writer.close()
    return answer


@pytest.mark.asyncio
async def test_a_malformed_request_is_one_warning_line_without_traceback(captured):
    app = web.Application()
    app.router.add_post("/hook", lambda request: web.Response(text="ok"))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        answer = await _raw(port, b"POST /hook?token=s3cr3t-token HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n{}")
    finally:
        await runner.cleanup()
    assert answer.split(b"\r\n")[0].endswith(b" 400 Bad Request")
    text = captured.getvalue()
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if "aiohttp.server" in line]
    assert lines and all(line.startswith("WARNING aiohttp.server: malformed HTTP request from 127.0.0.1: 400") for line in lines)


def test_other_errors_keep_their_traceback(captured):
    log = logging.getLogger("aiohttp.server")
    try:
        raise RuntimeError("a bug in a handler")
    except RuntimeError:
        log.exception("Error handling request from %s", "127.0.0.1")
    text = captured.getvalue()
    assert "ERROR aiohttp.server: Error handling request from 127.0.0.1" in text
    assert "Traceback" in text and "a bug in a handler" in text
