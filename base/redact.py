"""Secrets never reach logs: tokens in URLs, query strings and headers are masked here."""

from __future__ import annotations

import re
from collections.abc import Mapping

MASK = "***"
_SECRET_QUERY = re.compile(r"(?i)([?&](?:api_token|token|secret|access_token)=)[^&#\s]*")
_BOT_PATH = re.compile(r"/bot\d+:[A-Za-z0-9_-]+")
_SECRET_HEADERS = {
    "authorization", "x-webhook-token", "x-telegram-bot-api-secret-token",
    "x-okdesk-signature", "x-hub-signature-256", "cookie",
}


def mask_url(url: str) -> str:
    """`...?api_token=abc` → `...?api_token=***`; `/bot123:ABC/` → `/bot***/`."""
    return _BOT_PATH.sub("/bot" + MASK, _SECRET_QUERY.sub(r"\1" + MASK, str(url)))


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: (MASK if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


def mask_secret(value: str | None) -> str:
    if not value:
        return "(unset)"
    return MASK
