"""Both webhook dialects into one `IssueEvent` (pure).

Seed dialect: `event.event_type` is `issue.status_changed` / `issue.updated` / `comment.created`;
statuses in `issue.status` / `issue.old_status`; integer ids.
Real Okdesk: `new_ticket_status`, `new_ticket`, `new_comment`, ...; the transition in
`event.old_status` / `event.new_status` outranks the issue block's own status fields; ids are
strings. Any field may be missing or null.
The sweep's observations (`origin` `sweep`): one issue as `GET /issues/list` answered it, in the
API's own shape (`status{code,name}`, `company_id`, `contact{id,name}`, `completed_at`, ...):
an `observed` event carrying the status it was seen in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from schemas.records import IssueEvent, OkdeskWebhookEnvelope
from schemas.records.raw import SWEEP


class Kind:
    STATUS_CHANGED = "status_changed"
    UPDATED = "updated"
    CREATED = "created"
    COMMENT = "comment"
    ASSIGNEE_CHANGED = "assignee_changed"
    CSAT_RATE = "csat_rate"
    DELETED = "deleted"
    OBSERVED = "observed"  # the sweep saw the issue in this status (its webhook may never have come)
    OTHER = "other"


SEED_KINDS = {
    "issue.status_changed": Kind.STATUS_CHANGED,
    "issue.updated": Kind.UPDATED,
    "issue.created": Kind.CREATED,
    "comment.created": Kind.COMMENT,
}
OKDESK_KINDS = {
    "new_ticket_status": Kind.STATUS_CHANGED,
    "new_ticket": Kind.CREATED,
    "new_comment": Kind.COMMENT,
    "new_assignee": Kind.ASSIGNEE_CHANGED,
    "new_csat_rate": Kind.CSAT_RATE,
    "ticket_deleted": Kind.DELETED,
}
MAX_TEXT = 2000
ISSUE_ID = re.compile(r"[0-9A-Za-z_-]{1,32}")


class NotUnderstood(ValueError):
    """A body okrate cannot read as an issue event: it goes to the dead-letter topic."""


@dataclass(frozen=True)
class Position:
    """Where the raw webhook sits in `okdesk.events`: its identity under any replay."""

    topic: str
    partition: int
    offset: int


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _valid(text: str) -> str:
    """JSON may escape lone surrogates (`"\\ud800"`), which are not text: they are replaced."""
    return text.encode("utf-8", "replace").decode("utf-8")


_JSON = msgspec.json.Decoder()


def parse_body(body: bytes) -> Any:
    """A webhook's JSON, every string in it valid text. msgspec reads UTF-8 JSON at a third of
    json's cost and refuses what is not plain UTF-8 JSON (escaped lone surrogates, NaN, a byte
    order mark, UTF-16): json reads that as before, and its strings are cleaned here once."""
    try:
        return _JSON.decode(body)
    except (msgspec.MsgspecError, RecursionError):
        return _cleaned(json.loads(body))


def _cleaned(data: Any) -> Any:
    """Parsed JSON with each string value made valid text (without recursion: any depth json read)."""
    box = [data]
    todo: list[tuple[Any, Any]] = [(box, 0)]
    while todo:
        parent, index = todo.pop()
        value = parent[index]
        if isinstance(value, str):
            if not value.isascii():
                parent[index] = _valid(value)
        elif isinstance(value, list):
            todo.extend((value, i) for i in range(len(value)))
        elif isinstance(value, dict):
            todo.extend((value, key) for key in value)
    return box[0]


def _text(value: Any, limit: int = MAX_TEXT) -> str | None:
    if isinstance(value, str):
        return value[:limit]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def status_code(value: Any) -> str | None:
    """Status codes compare exactly and case-insensitively: `Resolved` is `resolved`."""
    code = _text(_obj(value).get("code"), 100) if isinstance(value, dict) else _text(value, 100)
    return code.strip().lower() or None if code else None


def _status_name(value: Any) -> str | None:
    return _text(_obj(value).get("name"), 200)


def _time(value: Any) -> datetime | None:
    """Okdesk writes ISO 8601 times (with an offset, or a `Z`); anything else is ignored."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    return parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)


def _full_name(person: dict[str, Any]) -> str | None:
    parts = [_text(person.get(k), 100) for k in ("last_name", "first_name", "patronymic")]
    name = " ".join(p for p in parts if p)
    return name or None


def normalise(envelope: OkdeskWebhookEnvelope, position: Position) -> IssueEvent | None:
    """The issue event in a raw webhook; None for events about other entities (companies,
    contacts, equipment), which the log keeps and okrate ignores. Raises NotUnderstood."""
    try:
        data = parse_body(envelope.body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise NotUnderstood(f"the body is not JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise NotUnderstood("the body is not a JSON object")
    if envelope.origin == SWEEP:
        return _observed(data, envelope, position)
    event, issue = _obj(data.get("event")), _obj(data.get("issue"))
    event_type = _text(event.get("event_type"), 100)
    if event_type in SEED_KINDS or (event_type is None and issue):
        dialect, kind = "seed", SEED_KINDS.get(event_type or "", Kind.UPDATED)
    else:
        dialect, kind = "okdesk", OKDESK_KINDS.get(event_type or "", Kind.OTHER)
    issue_id = _id(issue.get("id"))
    if issue_id is None:
        if issue or kind != Kind.OTHER:
            raise NotUnderstood(f"a {event_type or 'webhook'} without an issue id")
        return None
    if not ISSUE_ID.fullmatch(issue_id):
        # Okdesk's ids are numbers; this bound keeps request ids within callback data's 64 bytes.
        raise NotUnderstood(f"issue id {issue_id[:40]!r} is not 1-32 letters, digits, _ or -")

    if dialect == "okdesk" and kind == Kind.STATUS_CHANGED and (event.get("new_status") or event.get("old_status")):
        old_status, new_status = event.get("old_status"), event.get("new_status")
    else:
        old_status, new_status = issue.get("old_status"), issue.get("status")

    client = _obj(issue.get("client"))
    contact, company = _obj(client.get("contact")), _obj(client.get("company"))
    if not contact and isinstance(issue.get("contact"), dict):
        contact = issue["contact"]
    assignee = _obj(event.get("new_assignee")) if kind == Kind.ASSIGNEE_CHANGED else {}
    assignee = assignee or _obj(issue.get("assignee"))
    group, employee = _obj(assignee.get("group")), _obj(assignee.get("employee"))
    issue_type = _obj(issue.get("type"))
    comment = _obj(event.get("comment")) or _obj(data.get("comment"))
    author = _obj(event.get("author")) or _obj(comment.get("author"))
    public = comment.get("is_public", comment.get("public"))

    return IssueEvent(
        event_id=f"issue-event/{position.partition}/{position.offset}",
        kind=kind,
        source_event_type=event_type,
        dialect=dialect,
        issue_id=issue_id,
        event_time=envelope.received_at,
        delivery_id=envelope.delivery_id,
        source_topic=position.topic,
        source_partition=position.partition,
        source_offset=position.offset,
        old_status_code=status_code(old_status),
        old_status_name=_status_name(old_status),
        new_status_code=status_code(new_status),
        new_status_name=_status_name(new_status),
        title=_text(issue.get("title"), 500),
        type_code=status_code(issue_type) if issue_type else None,
        type_name=_text(issue_type.get("name"), 200),
        contact_id=_id(contact.get("id")),
        company_id=_id(company.get("id")),
        company_name=_text(company.get("name"), 300),
        assignee_employee_id=_id(employee.get("id")),
        assignee_employee_name=_full_name(employee),
        assignee_group_id=_id(group.get("id")),
        assignee_group_name=_text(group.get("name"), 300),
        priority_code=status_code(issue.get("priority")),
        author_id=_id(author.get("id")),
        author_type=_text(author.get("type"), 50),
        comment_id=_id(comment.get("id")),
        comment_public=public if isinstance(public, bool) else None,
        comment_content=_text(comment.get("content")),
        csat_rate=status_code(event.get("rate")) or status_code(issue.get("rate")),
        created_at=_time(issue.get("created_at")),
        completed_at=_time(issue.get("completed_at")),
        reacted_at=_time(issue.get("reacted_at")),
    )


def _observed(issue: dict[str, Any], envelope: OkdeskWebhookEnvelope, position: Position) -> IssueEvent:
    """An issue the sweep read from the API: its status as an update would carry it."""
    issue_id = _id(issue.get("id"))
    if issue_id is None or not ISSUE_ID.fullmatch(issue_id):
        raise NotUnderstood("an observed issue without a valid id")
    contact = _obj(issue.get("contact")) or _obj(_obj(issue.get("client")).get("contact"))
    assignee = _obj(issue.get("assignee"))
    employee = _obj(assignee.get("employee")) or {"id": assignee.get("employee_id", assignee.get("id"))}
    group = _obj(assignee.get("group")) or {"id": assignee.get("group_id")}
    issue_type, company = _obj(issue.get("type")), _obj(issue.get("company"))
    return IssueEvent(
        event_id=f"issue-event/{position.partition}/{position.offset}",
        kind=Kind.OBSERVED,
        source_event_type=SWEEP,
        dialect="api",
        issue_id=issue_id,
        event_time=envelope.received_at,
        delivery_id=envelope.delivery_id,
        source_topic=position.topic,
        source_partition=position.partition,
        source_offset=position.offset,
        new_status_code=status_code(issue.get("status")),
        new_status_name=_status_name(issue.get("status")),
        title=_text(issue.get("title"), 500),
        type_code=status_code(issue_type) if issue_type else None,
        type_name=_text(issue_type.get("name"), 200),
        contact_id=_id(contact.get("id")),
        company_id=_id(issue.get("company_id")) or _id(company.get("id")),
        company_name=_text(company.get("name"), 300),
        assignee_employee_id=_id(employee.get("id")),
        assignee_employee_name=_text(assignee.get("name"), 300) or _full_name(employee),
        assignee_group_id=_id(group.get("id")),
        assignee_group_name=_text(group.get("name"), 300),
        priority_code=status_code(issue.get("priority")),
        created_at=_time(issue.get("created_at")),
        completed_at=_time(issue.get("completed_at")),
        reacted_at=_time(issue.get("reacted_at")),
    )
