"""Message keys: raw UTF-8 strings, the same bytes whoever writes them, so that one key lands on
the same partition number in every topic (every producer uses the murmur2 partitioner)."""

from __future__ import annotations


def okdesk_id(value: str | int) -> str:
    """An Okdesk id as okrate keeps it: Okdesk sends ids as strings or integers."""
    if isinstance(value, bool):
        raise TypeError("an Okdesk id cannot be a boolean")
    return str(value).strip()


def issue_key(issue_id: str | int) -> bytes:
    return okdesk_id(issue_id).encode()


def contact_key(contact_id: str | int) -> bytes:
    return okdesk_id(contact_id).encode()


def chat_key(chat_id: int) -> bytes:
    """Key of `telegram.updates`."""
    return str(int(chat_id)).encode()


def conversation_key(chat_id: int) -> bytes:
    """Key of a conversation step in `bot.state`."""
    return f"chat:{int(chat_id)}".encode()


def invite_key(token: str) -> bytes:
    """Key of a link invite in `bot.state`."""
    return f"invite:{token}".encode()


def dimension_key(dimension: str) -> bytes:
    """Key of `rating.stats`, e.g. `all`, `company:17`, `day:2026-11-27`."""
    return dimension.encode()
