"""Link invites: `okrate link invite --contact 95` prints `https://t.me/<bot>?start=<token>`;
`/start <token>` in the bot links that contact to whoever opened it, once, before it expires.
The token is random (`secrets.token_urlsafe`), at most 64 characters of `A-Za-z0-9_-` (Telegram's
limit for a start parameter), and kept as a `LinkInvite` in `bot.state`."""

from __future__ import annotations

import json
import re
import secrets
import urllib.request
from datetime import datetime, timedelta
from typing import Literal

from confluent_kafka import Producer

from base.kafka_clients import producer_config
from base.settings import Settings
from schemas.codec import encode
from schemas.keys import invite_key
from schemas.records import LinkInvite, utc_now
from schemas.topics import BOT_STATE

TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
TOKEN_BYTES = 24  # 32 characters


def new_token() -> str:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    assert TOKEN.fullmatch(token)
    return token


def new_invite(contact_id: str, ttl: timedelta, now: datetime | None = None) -> LinkInvite:
    now = now or utc_now()
    return LinkInvite(token=new_token(), contact_id=contact_id, created_at=now, expires_at=now + ttl)


Verdict = Literal["valid", "unknown", "used", "expired"]


def invite_verdict(invite: LinkInvite | None, now: datetime) -> Verdict:
    """What `/start <token>` finds (pure)."""
    if invite is None:
        return "unknown"
    if invite.used_at is not None:
        return "used"
    if invite.expires_at <= now:
        return "expired"
    return "valid"


def invite_url(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username}?start={token}"


def bot_username(settings: Settings, timeout: float = 15.0) -> str:
    """The bot's username, from getMe on TELEGRAM_API_URL."""
    if not settings.telegram_bot_token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    url = f"{settings.telegram_api_url}/bot{settings.telegram_bot_token}/getMe"
    request = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        body = json.loads(resp.read())
    if not body.get("ok") or not body.get("result", {}).get("username"):
        raise ValueError(f"getMe did not answer with the bot's username: {body.get('description', body)}")
    return body["result"]["username"]


def write_invite(settings: Settings, bootstrap: str, invite: LinkInvite) -> None:
    producer = Producer(producer_config(bootstrap))
    failures: list[str] = []
    producer.produce(BOT_STATE.full_name(settings), key=invite_key(invite.token), value=encode(invite),
                     on_delivery=lambda err, _msg: failures.append(str(err)) if err else None)
    if producer.flush(30) or failures:
        raise RuntimeError(f"Kafka did not store the invite: {failures[:1]}")
