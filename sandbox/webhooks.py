"""Okdesk webhooks of both dialects, built as pure functions, signed and sent.

Dialects (see shared/okdesk-and-telegram.md):

* ``"okdesk"``: what real Okdesk sends. ``event.event_type`` is ``new_ticket_status`` (or
  ``new_comment``), the transition is in ``event.old_status`` / ``event.new_status``, and
  every id is a string.
* ``"seed"``: the shape the seed describes. ``event.event_type`` is ``issue.status_changed``
  (or ``comment.created``), the statuses are ``issue.status`` / ``issue.old_status``, ids are
  integers.

A signed webhook carries ``X-Okdesk-Signature: sha256=<hex HMAC-SHA256 of the raw body>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

Dialect = Literal["seed", "okdesk"]
DIALECTS: tuple[Dialect, ...] = ("seed", "okdesk")
SIGNATURE_HEADER = "X-Okdesk-Signature"

STATUS_NAMES: dict[str, str] = {
    "opened": "Открыта",
    "in_progress": "В работе",
    "delayed": "Отложена",
    "completed": "Решена",
    "closed": "Закрыта",
    "resolved": "Решена",
    "done": "Выполнена",
    "finished": "Завершена",
    "solved": "Решена",
}


@dataclass(frozen=True)
class Person:
    id: int
    first_name: str = ""
    last_name: str = ""
    patronymic: str | None = None
    type: Literal["employee", "contact"] = "employee"


@dataclass(frozen=True)
class IssueFacts:
    """What a webhook says about an issue. Only ``issue_id`` is required."""

    issue_id: int
    title: str = ""
    description: str = ""
    status: str = "completed"
    old_status: str | None = None
    contact: Person | None = None
    company_id: int | None = None
    company_name: str | None = None
    assignee: Person | None = None
    group_id: int | None = None
    group_name: str | None = None
    author: Person | None = None  # who created the issue
    type_code: str = "service"
    type_name: str = "Обслуживание"
    priority_code: str = "normal"
    priority_name: str = "Средний"
    created_at: str | None = None
    completed_at: str | None = None
    rate: str | None = None
    status_names: Mapping[str, str] = field(default_factory=lambda: STATUS_NAMES)

    def status_obj(self, code: str | None) -> dict[str, str] | None:
        if code is None:
            return None
        return {"code": code, "name": self.status_names.get(code, code)}


def build_webhook(
    dialect: Dialect,
    issue_id: int,
    status: str,
    old_status: str | None = "opened",
    contact_id: int | None = None,
    company_id: int | None = None,
    title: str = "",
    *,
    changed_by: Person | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """A status-change webhook from a few facts (what ``okrate send-test-webhook`` needs)."""
    facts = IssueFacts(
        issue_id=issue_id,
        title=title,
        status=status,
        old_status=old_status,
        contact=Person(contact_id, type="contact") if contact_id is not None else None,
        company_id=company_id,
    )
    return build_status_webhook(dialect, facts, changed_by=changed_by, comment=comment)


def build_status_webhook(
    dialect: Dialect,
    facts: IssueFacts,
    *,
    changed_by: Person | None = None,
    comment: str | None = None,
    comment_id: int | None = None,
) -> dict[str, Any]:
    """The webhook Okdesk posts when the issue's status changes to ``facts.status``."""
    if dialect == "seed":
        return {"event": {"event_type": "issue.status_changed"}, "issue": _seed_issue(facts)}
    _check(dialect)
    event: dict[str, Any] = {
        "event_type": "new_ticket_status",
        "author": _person(changed_by or Person(1, "Служба", "поддержки")),
        "old_status": facts.status_obj(facts.old_status),
        "new_status": facts.status_obj(facts.status),
    }
    if comment is not None:
        event["comment"] = {
            "id": _sid(comment_id or 1),
            "is_public": True,
            "content": comment,
        }
    return {"event": event, "issue": _okdesk_issue(facts)}


def build_comment_webhook(
    dialect: Dialect,
    facts: IssueFacts,
    *,
    comment_id: int,
    content: str,
    public: bool,
    author: Person,
) -> dict[str, Any]:
    """The webhook Okdesk posts when a comment is added to the issue (by anyone, our bot too)."""
    if dialect == "seed":
        return {
            "event": {"event_type": "comment.created"},
            "issue": _seed_issue(facts),
            "comment": {
                "id": comment_id,
                "content": content,
                "public": public,
                "author": {"id": author.id, "type": author.type},
            },
        }
    _check(dialect)
    return {
        "event": {
            "event_type": "new_comment",
            "author": _person(author),
            "comment": {"id": _sid(comment_id), "is_public": public, "content": content},
        },
        "issue": _okdesk_issue(facts),
    }


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes that are sent (and signed)."""
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def sign_body(body: bytes, secret: str) -> str:
    """The value of ``X-Okdesk-Signature`` for ``body``: ``sha256=<hex digest>``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(frozen=True)
class WebhookDelivery:
    url: str
    body: bytes
    headers: dict[str, str]
    status: int | None  # None when no answer came (connection refused, timeout)
    response_text: str = ""
    error: str | None = None

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def send_webhook(
    url: str,
    payload: Mapping[str, Any],
    *,
    secret: str | None = None,
    session: aiohttp.ClientSession | None = None,
    extra_headers: Mapping[str, str] | None = None,
    request_timeout: float = 10.0,
) -> WebhookDelivery:
    """POST ``payload`` as Okdesk would; never raises for HTTP or connection failures."""
    body = encode_body(payload)
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Okdesk"}
    if secret:
        headers[SIGNATURE_HEADER] = sign_body(body, secret)
    headers.update(extra_headers or {})
    own = session is None
    client = session or aiohttp.ClientSession()
    try:
        async with client.post(
            url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=request_timeout)
        ) as resp:
            text = await resp.text(errors="replace")
            return WebhookDelivery(url, body, headers, resp.status, text)
    except (aiohttp.ClientError, TimeoutError) as e:
        return WebhookDelivery(url, body, headers, None, error=f"{type(e).__name__}: {e}")
    finally:
        if own:
            await client.close()


def _check(dialect: str) -> None:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown webhook dialect {dialect!r}; use one of {DIALECTS}")


def _sid(value: int | None) -> str | None:
    return None if value is None else str(value)


def _person(p: Person) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": _sid(p.id),
        "first_name": p.first_name,
        "last_name": p.last_name,
        "type": p.type,
    }
    if p.type == "contact":
        d["patronymic"] = p.patronymic
    return d


def _seed_issue(f: IssueFacts) -> dict[str, Any]:
    client: dict[str, Any] = {}
    if f.contact is not None:
        client["contact"] = {"id": f.contact.id}
    if f.company_id is not None:
        client["company"] = {"id": f.company_id}
    return {
        "id": f.issue_id,
        "title": f.title,
        "status": f.status_obj(f.status),
        "old_status": f.status_obj(f.old_status),
        "client": client,
    }


def _okdesk_issue(f: IssueFacts) -> dict[str, Any]:
    contact = None
    if f.contact is not None:
        contact = {
            "id": _sid(f.contact.id),
            "first_name": f.contact.first_name,
            "last_name": f.contact.last_name,
            "patronymic": f.contact.patronymic,
        }
    company = None
    if f.company_id is not None:
        company = {"id": _sid(f.company_id), "name": f.company_name}
    assignee = None
    if f.assignee is not None or f.group_id is not None:
        assignee = {
            "group": {"id": _sid(f.group_id), "name": f.group_name} if f.group_id else None,
            "employee": (
                {
                    "id": _sid(f.assignee.id),
                    "first_name": f.assignee.first_name,
                    "last_name": f.assignee.last_name,
                }
                if f.assignee
                else None
            ),
        }
    return {
        "id": _sid(f.issue_id),
        "title": f.title,
        "description": f.description,
        "created_at": f.created_at,
        "completed_at": f.completed_at,
        "deadline_at": None,
        "reacted_at": None,
        "type": {"code": f.type_code, "name": f.type_name, "inner": False},
        "priority": {"code": f.priority_code, "name": f.priority_name},
        "status": f.status_obj(f.status),
        "old_status": f.status_obj(f.old_status),
        "rate": f.rate,
        "author": _person(f.author) if f.author else None,
        "assignee": assignee,
        "client": {"company": company, "contact": contact},
        "parameters": [],
        "attachments": [],
    }


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    dialect: Dialect = "okdesk"
    secret: str | None = None
