"""Failed logins to the web views, limited per client address (`DASHBOARD_LOGIN_FAILURES` in
`DASHBOARD_LOGIN_WINDOW`): beyond them the address is answered 429 with `Retry-After`, whatever it
sends, until its oldest failure leaves the window. A failure is a wrong token in the login form, a
wrong bearer token or a forged session cookie; a request without credentials is none.

The address is the connection's (`request.remote`): behind a reverse proxy every client shares
the proxy's, so limit there too. Kept in the worker's memory (a restart forgets it); at most
`MAX_ADDRESSES` addresses are remembered, the least recently failing forgotten first.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_ADDRESSES = 10_000


def token_matches(given: str, token: str) -> bool:
    """In constant time, whatever the lengths: the digests of both are compared."""
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), hashlib.sha256(token.encode()).digest())


def retry_after(failures: Iterable[float], now: float, max_failures: int, window_s: float) -> int | None:
    """Seconds until this address may try again (pure); None: it may now."""
    recent = sorted(t for t in failures if now - window_s < t <= now)
    if len(recent) < max_failures:
        return None
    return max(1, math.ceil(recent[len(recent) - max_failures] + window_s - now))


def after_failure(failures: Iterable[float], now: float, window_s: float) -> tuple[float, ...]:
    """The failures worth keeping once one more happens at `now` (pure)."""
    return (*(t for t in failures if now - window_s < t <= now), now)


@dataclass
class LoginLimit:
    max_failures: int
    window_s: float
    failures: OrderedDict[str, tuple[float, ...]] = field(default_factory=OrderedDict)

    def retry_after(self, address: str, now: float) -> int | None:
        return retry_after(self.failures.get(address, ()), now, self.max_failures, self.window_s)

    def failed(self, address: str, now: float) -> None:
        self.failures[address] = after_failure(self.failures.pop(address, ()), now, self.window_s)
        while len(self.failures) > MAX_ADDRESSES:
            self.failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self.failures.pop(address, None)
