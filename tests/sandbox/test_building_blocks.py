"""The small parts both stand-ins share: the limiter, fault injection, masked logging."""

from __future__ import annotations

import asyncio
import logging
import socket

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.clock import FakeClock
from sandbox.faults import FaultInjector, configure
from sandbox.okdesk_api import serve_okdesk
from sandbox.okdesk_state import OkdeskState
from sandbox.ratelimit import SlidingWindow, whole_seconds
from sandbox.runner import mask_secrets
from sandbox.telegram_html import HtmlParseError, parse_html


def test_sliding_window_counts_per_key_and_frees_up_as_time_passes() -> None:
    clock = FakeClock()
    window = SlidingWindow(limit=2, window=1.0, clock=clock)
    window.record("a")
    clock.advance(0.25)
    window.record("a")
    assert window.retry_after("a") == pytest.approx(0.75)
    assert window.retry_after("b") == 0.0
    clock.advance(0.75)
    assert window.retry_after("a") == 0.0
    assert whole_seconds(0.01) == 1 and whole_seconds(2.2) == 3


def test_fault_bursts_run_out_and_outages_end() -> None:
    clock = FakeClock()
    faults = FaultInjector(clock=clock)
    faults.fail_next(1, 502, methods=["sendMessage"])
    assert faults.take("getMe") is None
    assert faults.take("SENDMESSAGE") is not None
    assert faults.take("sendMessage") is None
    faults.fail_for(5, 503)
    clock.advance(4.9)
    assert faults.take("anything") is not None
    clock.advance(0.1)
    assert faults.take("anything") is None


def test_faults_configured_from_json() -> None:
    faults = FaultInjector(clock=FakeClock())
    configure(faults, {"kind": "rate_limit_next", "count": 1, "retry_after": 9})
    fault = faults.take("x")
    assert fault is not None and (fault.status, fault.retry_after) == (429, 9)
    with pytest.raises(ValueError):
        configure(faults, {"kind": "fail_next", "count": "many"})


@given(st.text(alphabet=st.sampled_from('<>/&;#"= abiu-xtgpre\n'), max_size=40))
def test_the_html_parser_never_fails_any_other_way(text: str) -> None:
    try:
        parse_html(text)
    except HtmlParseError:
        pass


def test_logged_urls_hide_both_kinds_of_token() -> None:
    assert mask_secrets("/bot123:ABC/sendMessage") == "/bot***/sendMessage"
    assert (
        mask_secrets("/api/v1/issues/1?api_token=s3cr3t&x=1")
        == "/api/v1/issues/1?api_token=***&x=1"
    )


async def test_serve_runs_until_cancelled_and_logs_without_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    state = OkdeskState()
    server = asyncio.create_task(serve_okdesk(state, "127.0.0.1", port))
    caplog.set_level(logging.INFO, logger="sandbox.access")
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(50):  # until the socket is listening
                try:
                    url = f"http://127.0.0.1:{port}/api/v1/issues/statuses?api_token={state.api_token}"
                    async with http.get(url) as resp:
                        assert resp.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.02)
    finally:
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server
    await asyncio.sleep(0)
    assert "api_token=***" in caplog.text and state.api_token not in caplog.text
