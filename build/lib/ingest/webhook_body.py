"""Is this body a webhook at all, and what is its message key? All meaning comes later, in streams/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

MAX_KEY_LENGTH = 200


class NotAWebhook(ValueError):
    pass


class _BigNumber(Exception):
    """orjson read an integer beyond 64 bits as a float where an id is: the stdlib reads it exactly."""


@dataclass(frozen=True)
class WebhookSummary:
    key: str  # the issue id as a string, or a stable key of the body's own entity
    issue_id: str | None
    event_type: str | None


def _id(value: Any, from_orjson: bool) -> str | None:
    if from_orjson and isinstance(value, float):
        raise _BigNumber
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, str)):
        text = str(value).strip()
        return text[:MAX_KEY_LENGTH] if text else None
    return None


def _parse(body: bytes) -> tuple[Any, bool]:
    """orjson, several times faster; what it refuses (NaN, a BOM, UTF-16, lone surrogates,
    nesting deeper than 1024) is read by the stdlib, so the same bodies are accepted as before."""
    try:
        return orjson.loads(body), True
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body), False
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise NotAWebhook(f"the body is not JSON ({type(exc).__name__})") from None


def summarise_webhook(body: bytes) -> WebhookSummary:
    """Raises NotAWebhook for a body that is not a JSON object with an `event` or `issue` part."""
    if not body or body.isspace():
        raise NotAWebhook("the body is empty")
    try:
        data, from_orjson = _parse(body)
        return _summarise(data, from_orjson)
    except _BigNumber:
        return _summarise(json.loads(body), False)


def _summarise(data: Any, from_orjson: bool) -> WebhookSummary:
    if not isinstance(data, dict):
        raise NotAWebhook(f"the body is a JSON {type(data).__name__}, not an object")
    event, issue = data.get("event"), data.get("issue")
    for name, part in (("event", event), ("issue", issue)):
        if part is not None and not isinstance(part, dict):
            raise NotAWebhook(f"`{name}` is a JSON {type(part).__name__}, not an object")
    if not isinstance(event, dict) and not isinstance(issue, dict):
        raise NotAWebhook("the body has neither an `event` nor an `issue` object")
    event_type = event.get("event_type") if isinstance(event, dict) else None
    if event_type is not None and not isinstance(event_type, str):
        raise NotAWebhook("`event.event_type` is not a string")
    event_type = event_type[:MAX_KEY_LENGTH] if event_type is not None else None
    raw_id = issue.get("id") if isinstance(issue, dict) else None
    if from_orjson and isinstance(raw_id, float):
        raise _BigNumber
    if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, (int, str))):
        raise NotAWebhook("`issue.id` is neither a number nor a string")
    issue_id = _id(raw_id, from_orjson)
    if issue_id is not None:
        return WebhookSummary(issue_id, issue_id, event_type)
    # Events about other entities (companies, contacts, equipment) are kept too, keyed by
    # their own entity so that one entity's events stay in order.
    for entity in ("company", "contact", "equipment", "employee", "agreement"):
        block = data.get(entity)
        if isinstance(block, dict) and (entity_id := _id(block.get("id"), from_orjson)) is not None:
            return WebhookSummary(f"{entity}:{entity_id}", None, event_type)
    return WebhookSummary(f"event:{event_type or 'unknown'}", None, event_type)
