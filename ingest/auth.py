"""Who may append to okrate's log: the Okdesk webhook's signature or token, Telegram's secret.

Okdesk documents no signing, so a request passes with either an HMAC-SHA256 signature of the raw
body or the shared secret itself as a token (in the URL or a header). Every comparison is
constant-time and on bytes; a header that is not ASCII simply fails.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from enum import StrEnum

SIGNATURE_HEADERS = ("X-Okdesk-Signature", "X-Hub-Signature-256")
TOKEN_HEADER = "X-Webhook-Token"
TOKEN_QUERY = "token"
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class AuthMethod(StrEnum):
    SIGNATURE = "signature"
    TOKEN = "token"
    NONE = "none"  # no WEBHOOK_SECRET configured


def _ascii(value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        return value.encode("ascii")
    except UnicodeEncodeError:
        return None


def _same(given: str | None, expected: bytes) -> bool:
    raw = _ascii(given)
    return raw is not None and hmac.compare_digest(raw, expected)


def body_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def authenticate_webhook(
    secret: str | None, body: bytes, headers: Mapping[str, str], query: Callable[[], Mapping[str, str]]
) -> AuthMethod | None:
    """How the request proved itself, or None when it did not. `query` is asked for only when
    no header proved it (parsing a URL's query string costs more than the rest here)."""
    if not secret:
        return AuthMethod.NONE
    expected_hex = body_signature(secret, body).encode()
    for name in SIGNATURE_HEADERS:
        given = headers.get(name)
        if given is None:
            continue
        given = given.strip()
        if given[:7].lower() == "sha256=":
            given = given[7:]
        if _same(given.lower(), expected_hex):
            return AuthMethod.SIGNATURE
    secret_bytes = secret.encode()
    if _same(headers.get(TOKEN_HEADER), secret_bytes) or _same(query().get(TOKEN_QUERY), secret_bytes):
        return AuthMethod.TOKEN
    return None


def authenticate_telegram(secret: str, headers: Mapping[str, str]) -> bool:
    return _same(headers.get(TELEGRAM_SECRET_HEADER), secret.encode())
