"""The admin token in front of the streams worker's views (`ADMIN_TOKEN`): a bearer header or the
login form's cookie (derived from the token, never the token itself), with failed logins limited
per client address (streams.web.login_limit)."""

from __future__ import annotations

import hashlib
import hmac
import html
import time
from collections.abc import Callable
from typing import Any

from streams.web.login_limit import LoginLimit, token_matches

SESSION_COOKIE = "okrate_dashboard_session"


# -- the admin token ---------------------------------------------------------------------------


def session_value(token: str) -> str:
    """What the cookie holds: derived from the token, so that the cookie never reveals it."""
    return hmac.new(token.encode(), b"okrate dashboard session", hashlib.sha256).hexdigest()


def allowed(headers: Any, cookies: Any, token: str | None) -> bool:
    """No token configured: open. Otherwise `Authorization: Bearer <token>` or the login cookie,
    compared in constant time."""
    if not token:
        return True
    scheme, _, given = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token_matches(given.strip(), token):
        return True
    cookie = cookies.get(SESSION_COOKIE) or ""
    return bool(cookie) and token_matches(cookie, session_value(token))


def credentials_given(headers: Any, cookies: Any) -> bool:
    """A bearer header or a session cookie: a wrong one is a failed login."""
    return bool(headers.get("Authorization")) or bool(cookies.get(SESSION_COOKIE))


class Gate:
    """The admin token in front of every view, with failed logins limited per client address
    (streams.web.login_limit). `check` answers (allowed, seconds to wait when limited)."""

    def __init__(self, token: str | None, limit: LoginLimit, on: Any = None, clock=time.monotonic):
        self.token, self.limit, self.clock = token, limit, clock
        self.on = on  # a Counter by outcome (`failed`, `limited`), or None

    def _count(self, outcome: str) -> None:
        if self.on is not None:
            self.on.labels(outcome).inc()

    def limited(self, request: Any) -> int | None:
        if not self.token:
            return None
        wait = self.limit.retry_after(request.remote or "?", self.clock())
        if wait is not None:
            self._count("limited")
        return wait

    def failed(self, request: Any) -> None:
        self.limit.failed(request.remote or "?", self.clock())
        self._count("failed")

    def check(self, request: Any) -> tuple[bool, int | None]:
        wait = self.limited(request)
        if wait is not None:
            return False, wait
        if allowed(request.headers, request.cookies, self.token):
            return True, None
        if credentials_given(request.headers, request.cookies):
            self.failed(request)
        return False, None

    def refusal(self, view: Any, request: Any, unauthorised: Callable[[], Any]) -> Any | None:
        """None when the request may go on; else its answer: 429 while its address is limited,
        or `unauthorised()` (each view says no in its own way)."""
        ok, wait = self.check(request)
        if wait is not None:
            return too_many(view, wait)
        return None if ok else unauthorised()

    def login(self, request: Any, given: str) -> tuple[bool, int | None]:
        """The login form's token."""
        wait = self.limited(request)
        if wait is not None:
            return False, wait
        if self.token and token_matches(given, self.token):
            self.limit.succeeded(request.remote or "?")
            return True, None
        self.failed(request)
        return False, None


def too_many(view: Any, wait: int) -> Any:
    return view.json({"error": f"too many failed logins from this address: try again in {wait} s"}, status=429,
                     headers={"Retry-After": str(wait), "Cache-Control": "no-store"})


def local_path(value: str | None, default: str = "/dashboard") -> str:
    """A redirect target after login: a path on this site only."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    return value


def login_page(next_path: str, error: str | None = None) -> str:
    message = f'<p class="login-error" role="alert">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>okrate · dashboard · login</title>
<link rel="stylesheet" href="/dashboard/static/dashboard.css">
<link rel="icon" href="/dashboard/static/favicon.svg" type="image/svg+xml"></head>
<body class="login-body"><form class="login" method="post" action="/dashboard/login">
<h1>okrate dashboard</h1><p>The dashboard shows ratings, issues, companies and assignees.
Enter the <code>ADMIN_TOKEN</code> to continue.</p>{message}
<input type="hidden" name="next" value="{html.escape(local_path(next_path))}">
<label>Admin token <input type="password" name="token" autocomplete="current-password"
autofocus required></label><button type="submit">Log in</button></form></body></html>"""
