"""The normalised issue event: one Okdesk webhook of either dialect, understood."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from schemas.records.base import Record


@dataclass(frozen=True, kw_only=True)
class IssueEvent(Record):
    """One Okdesk webhook, understood: both dialects normalised into one event (topic `issue.events`). Any field Okdesk did not send is null.

    Fields: `avro/issue_event.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.IssueEvent"

    event_id: str
    kind: str
    source_event_type: str | None = None
    dialect: str
    issue_id: str
    event_time: datetime
    delivery_id: str
    source_topic: str
    source_partition: int
    source_offset: int
    old_status_code: str | None = None
    old_status_name: str | None = None
    new_status_code: str | None = None
    new_status_name: str | None = None
    title: str | None = None
    type_code: str | None = None
    type_name: str | None = None
    contact_id: str | None = None
    company_id: str | None = None
    company_name: str | None = None
    assignee_employee_id: str | None = None
    assignee_employee_name: str | None = None
    assignee_group_id: str | None = None
    assignee_group_name: str | None = None
    priority_code: str | None = None
    author_id: str | None = None
    author_type: str | None = None
    comment_id: str | None = None
    comment_public: bool | None = None
    comment_content: str | None = None
    csat_rate: str | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    reacted_at: datetime | None = None
