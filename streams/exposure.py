"""Where the streams worker's web server listens: nobody in by default.

`/dashboard`, `/dashboard/data`, `/stats` and `/stats.csv` show issue titles, companies,
assignees, scores and reasons. Without `ADMIN_TOKEN` nothing guards them, so the server then
listens on the loopback address only (reachable from the host itself, e.g. through an SSH tunnel
or a reverse proxy on the same host that authenticates); with `ADMIN_TOKEN` set it listens on
every address and the views ask for the token. Sandbox mode is no exception: its page is on the
loopback address too. The worker says which at start.
"""

from __future__ import annotations

from dataclasses import dataclass

from base.settings import Settings

LOOPBACK = "127.0.0.1"
EVERY_ADDRESS = "0.0.0.0"


@dataclass(frozen=True)
class WebExposure:
    host: str
    why: str


def web_exposure(settings: Settings) -> WebExposure:
    if settings.admin_token:
        return WebExposure(EVERY_ADDRESS, "ADMIN_TOKEN is set: /dashboard, /stats and /stats.csv ask for it")
    return WebExposure(LOOPBACK, "ADMIN_TOKEN is not set: /dashboard, /stats, /stats.csv and /metrics "
                                 "are served on the loopback address only; set ADMIN_TOKEN to serve them "
                                 "to the network")


def web_bind(settings: Settings) -> str:
    return web_exposure(settings).host
