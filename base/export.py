"""`okrate export`: the decision topics as rows for analysts (CSV or JSON lines).

Rows are built from the topics read from the beginning; each decision counts once (by its event
id: at-least-once delivery may have written it twice); forgotten contacts are left out.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.codec import DecodeError, decode
from schemas.records import (
    ContactLink,
    RatingClosed,
    RatingExpired,
    RatingRecorded,
    RatingReminder,
    RatingRequested,
    ReasonRecorded,
    Record,
    StatsSnapshot,
)

RATING_COLUMNS = (
    "request_id", "issue_id", "score", "rated_at", "requested_at", "title", "type_code", "type_name",
    "contact_id", "company_id", "company_name", "assignee_employee_id", "assignee_employee_name",
    "assignee_group_id", "assignee_group_name", "telegram_user_id",
)
REQUEST_COLUMNS = (
    "request_id", "issue_id", "cycle", "requested_at", "status_code", "title", "type_code", "contact_id",
    "company_id", "assignee_employee_id", "assignee_group_id", "deliverable", "reminded", "outcome",
    "closed_reason", "score",
)
REASON_COLUMNS = (
    "request_id", "issue_id", "score", "reason_code", "text", "given_at", "contact_id", "company_id",
    "assignee_employee_id", "assignee_group_id", "type_code",
)
STATS_COLUMNS = (
    "dimension", "ratings_count", "ratings_average", "score_1", "score_2", "score_3", "score_4", "score_5",
    "requests_sent", "requests_delivered", "requests_undeliverable", "requests_reminded", "requests_expired",
    "response_rate", "resolution_time_p50_seconds", "resolution_time_p90_seconds",
    "reaction_time_p50_seconds", "reaction_time_p90_seconds", "updated_at",
)
COLUMNS = {"ratings": RATING_COLUMNS, "requests": REQUEST_COLUMNS, "reasons": REASON_COLUMNS, "stats": STATS_COLUMNS}


@dataclass(frozen=True)
class Window:
    since: datetime | None = None
    until: datetime | None = None

    def holds(self, at: datetime | None) -> bool:
        if at is None:
            return True
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)


def decoded(values: Iterable[bytes | None]) -> Iterator[Record]:
    for value in values:
        try:
            yield decode(value)
        except DecodeError:
            continue  # the dead-letter topic tells about these; an export skips them


def unique(records: Iterable[Record]) -> Iterator[Record]:
    seen: set[str] = set()
    for record in records:
        event_id = getattr(record, "event_id", None)
        if event_id is not None:
            if event_id in seen:
                continue
            seen.add(event_id)
        yield record


def forgotten_contacts(links: Iterable[Record]) -> set[str]:
    """Contacts ever forgotten: their data stays out of exports even if they link again later."""
    return {link.contact_id for link in links if isinstance(link, ContactLink) and link.state == "forgotten"}


def rating_rows(recorded: Iterable[Record], forgotten: set[str], window: Window) -> Iterator[dict[str, Any]]:
    for r in unique(recorded):
        if isinstance(r, RatingRecorded) and r.contact_id not in forgotten and window.holds(r.pressed_at):
            yield {
                "request_id": r.request_id, "issue_id": r.issue_id, "score": r.score, "rated_at": r.pressed_at,
                "requested_at": r.requested_at, "title": r.title, "type_code": r.type_code, "type_name": r.type_name,
                "contact_id": r.contact_id, "company_id": r.company_id, "company_name": r.company_name,
                "assignee_employee_id": r.assignee_employee_id, "assignee_employee_name": r.assignee_employee_name,
                "assignee_group_id": r.assignee_group_id, "assignee_group_name": r.assignee_group_name,
                "telegram_user_id": r.from_user_id,
            }


def reason_rows(recorded: Iterable[Record], forgotten: set[str], window: Window) -> Iterator[dict[str, Any]]:
    for r in unique(recorded):
        if isinstance(r, ReasonRecorded) and r.contact_id not in forgotten and window.holds(r.given_at):
            yield {
                "request_id": r.request_id, "issue_id": r.issue_id, "score": r.score, "reason_code": r.reason_code,
                "text": r.text, "given_at": r.given_at, "contact_id": r.contact_id, "company_id": r.company_id,
                "assignee_employee_id": r.assignee_employee_id, "assignee_group_id": r.assignee_group_id,
                "type_code": r.type_code,
            }


def request_rows(requested: Iterable[Record], recorded: Iterable[Record], forgotten: set[str],
                 window: Window) -> Iterator[dict[str, Any]]:
    """One row per request: as first asked, with what became of it."""
    rows: dict[str, dict[str, Any]] = {}
    for r in unique(requested):
        if isinstance(r, RatingRequested):
            row = rows.setdefault(r.request_id, {
                "request_id": r.request_id, "issue_id": r.issue_id, "cycle": r.cycle, "requested_at": r.requested_at,
                "status_code": r.status_code, "title": r.title, "type_code": r.type_code, "contact_id": r.contact_id,
                "company_id": r.company_id, "assignee_employee_id": r.assignee_employee_id,
                "assignee_group_id": r.assignee_group_id, "deliverable": False, "reminded": False,
                "outcome": "open", "closed_reason": None, "score": None,
            })
            row["deliverable"] = row["deliverable"] or r.deliverable
        elif (row := rows.get(getattr(r, "request_id", ""))) is not None:
            if isinstance(r, RatingReminder):
                row["reminded"] = True
            elif isinstance(r, RatingExpired) and row["outcome"] == "open":
                row["outcome"] = "expired"
            elif isinstance(r, RatingClosed):
                row["outcome"], row["closed_reason"] = "closed", r.reason
    for r in unique(recorded):
        if isinstance(r, RatingRecorded) and (row := rows.get(r.request_id)) is not None:
            row["outcome"], row["score"] = "rated", r.score
    for row in rows.values():
        if row["contact_id"] not in forgotten and window.holds(row["requested_at"]):
            yield row


def stats_rows(snapshots: Iterable[Record]) -> Iterator[dict[str, Any]]:
    latest: dict[str, StatsSnapshot] = {}
    for s in snapshots:
        if isinstance(s, StatsSnapshot):
            latest[s.dimension] = s
    for s in sorted(latest.values(), key=lambda s: s.dimension):
        yield {
            "dimension": s.dimension, "ratings_count": s.ratings_count, "ratings_average": s.ratings_average,
            **{f"score_{n}": s.score_counts.get(str(n), 0) for n in range(1, 6)},
            "requests_sent": s.requests_sent, "requests_delivered": s.requests_delivered,
            "requests_undeliverable": s.requests_undeliverable, "requests_reminded": s.requests_reminded,
            "requests_expired": s.requests_expired, "response_rate": s.response_rate,
            "resolution_time_p50_seconds": s.resolution_time_p50_seconds,
            "resolution_time_p90_seconds": s.resolution_time_p90_seconds,
            "reaction_time_p50_seconds": s.reaction_time_p50_seconds,
            "reaction_time_p90_seconds": s.reaction_time_p90_seconds, "updated_at": s.updated_at,
        }


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def write_rows(rows: Iterable[dict[str, Any]], columns: tuple[str, ...], fmt: str, out: io.TextIOBase) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
            count += 1
    else:
        for row in rows:
            out.write(json.dumps({k: _cell(row.get(k)) for k in columns}, ensure_ascii=False) + "\n")
            count += 1
    return count

