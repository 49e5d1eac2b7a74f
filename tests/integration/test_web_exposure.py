"""Nobody in by default: outside the machine, the streams worker's web views (issue titles,
companies, scores, reasons) are reachable only when `ADMIN_TOKEN` guards them."""

from __future__ import annotations

import socket
import uuid

import aiohttp
import pytest

from tests.integration.test_stats import free_port, worker

PRODUCTION = {"telegram_bot_token": "123456:" + "A" * 35, "okdesk_api_url": "https://acme.okdesk.ru/api/v1/",
              "okdesk_api_token": "t"}


def other_address() -> str:
    """An address of this machine other than 127.0.0.1: its network address when it has one
    (a UDP "connection" sends nothing), else another loopback address."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routed, never reached
            address = probe.getsockname()[0]
        except OSError:
            address = "127.0.0.1"
    return address if address != "127.0.0.1" else "127.0.0.2"


async def _status(host: str, port: int, path: str) -> int | None:
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://{host}:{port}{path}",
                                                             timeout=aiohttp.ClientTimeout(total=10)) as r:
            return r.status
    except aiohttp.ClientConnectionError:
        return None  # nobody answers on that address


@pytest.mark.parametrize(("token", "from_outside"), [(None, None), ("s3cret-admin", 401)],
                         ids=["no-admin-token-loopback-only", "admin-token-every-address"])
async def test_the_web_views_reach_the_network_only_behind_the_admin_token(settings_for, kafka_bootstrap, tmp_path,
                                                                           token, from_outside):
    settings = settings_for(admin_token=token, **PRODUCTION)
    port = free_port()
    async with worker(settings, kafka_bootstrap, tmp_path / "w", f"okrate-test-{uuid.uuid4().hex[:8]}",
                      web_port=port, store="memory://"):
        assert await _status("127.0.0.1", port, "/metrics") == 200  # the host itself: always
        if token is None:
            assert await _status("127.0.0.1", port, "/dashboard") == 200
        for path in ("/dashboard", "/dashboard/data", "/stats", "/stats.csv"):
            assert await _status(other_address(), port, path) == from_outside, path


async def test_failed_logins_are_limited_per_address_with_retry_after(settings_for, kafka_bootstrap, tmp_path):
    token = "s3cret-admin"
    settings = settings_for(admin_token=token, dashboard_login_failures=3, **PRODUCTION)
    port = free_port()
    here = f"http://127.0.0.1:{port}"
    async with worker(settings, kafka_bootstrap, tmp_path / "w", f"okrate-test-{uuid.uuid4().hex[:8]}",
                      web_port=port, store="memory://"), aiohttp.ClientSession() as http:
        async def login(base: str, given: str) -> aiohttp.ClientResponse:
            async with http.post(f"{base}/dashboard/login", data={"token": given, "next": "/dashboard"},
                                 allow_redirects=False) as response:
                await response.read()
                return response

        for guess in ("guess-1", "guess-2", "guess-3"):
            assert (await login(here, guess)).status == 401
        limited = await login(here, token)  # the right token, too late: not even compared
        assert limited.status == 429 and 0 < int(limited.headers["Retry-After"]) <= 900
        async with http.get(f"{here}/stats", headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 429  # the bearer header is the same door
        assert (await login(f"http://{other_address()}:{port}", token)).status == 303  # another address: in
        async with http.get(f"{here}/metrics") as response:
            metrics = await response.text()
        assert 'okrate_streams_dashboard_logins_total{outcome="failed"} 3.0' in metrics
        assert 'okrate_streams_dashboard_logins_total{outcome="limited"} 2.0' in metrics
