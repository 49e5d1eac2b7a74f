"""A rating request's life: requested, reminded, expired, closed; presses and reasons as
claimed; and the decisions: recorded, rejected, reasons recorded, portal ratings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from schemas.records.base import Record


@dataclass(frozen=True, kw_only=True)
class RatingRequested(Record):
    """A rating request for one resolution cycle of an issue, addressed to the client's Telegram user when linked (topic `rating.requested`). Emitted again with the same `request_id` when a late link re-addresses it.

    Fields: `avro/rating_requested.v2.avsc` (v1: without `trigger_origin`).
    """

    AVRO_NAME: ClassVar[str] = "okrate.RatingRequested"

    event_id: str
    request_id: str
    issue_id: str
    cycle: int
    requested_at: datetime
    trigger_partition: int
    trigger_offset: int
    status_code: str | None = None
    status_name: str | None = None
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
    issue_created_at: datetime | None = None
    deliverable: bool
    recipient_user_id: int | None = None
    recipient_chat_id: int | None = None
    addressed_at: datetime | None = None
    trigger_origin: str | None = None  # "webhook" or "sweep"


@dataclass(frozen=True, kw_only=True)
class RatingReminder(Record):
    """The one reminder of an unanswered request (topic `rating.requested`).

    Fields: `avro/rating_reminder.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.RatingReminder"

    event_id: str
    request_id: str
    issue_id: str
    reminded_at: datetime
    reminder_number: int = 1
    recipient_user_id: int | None = None
    recipient_chat_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class RatingExpired(Record):
    """A request that was not answered within `RATING_EXPIRY` (topic `rating.requested`).

    Fields: `avro/rating_expired.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.RatingExpired"

    event_id: str
    request_id: str
    issue_id: str
    expired_at: datetime
    recipient_user_id: int | None = None
    recipient_chat_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class RatingClosed(Record):
    """A request closed before it was rated in Telegram (topic `rating.requested`).

    Fields: `avro/rating_closed.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.RatingClosed"

    event_id: str
    request_id: str
    issue_id: str
    reason: str
    closed_at: datetime
    cause_event_id: str | None = None
    portal_rate: str | None = None
    recipient_user_id: int | None = None
    recipient_chat_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class RatingReceived(Record):
    """A rating button press as the user claims it, not yet judged (topic `rating.received`).

    Fields: `avro/rating_received.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.RatingReceived"

    event_id: str
    update_id: int
    request_id: str
    issue_id: str
    score: int
    from_user_id: int
    chat_id: int | None = None
    message_id: int | None = None
    callback_query_id: str | None = None
    pressed_at: datetime


@dataclass(frozen=True, kw_only=True)
class ReasonGiven(Record):
    """A reason for a low score, as the user gave it: a reason button or free text from the bot's conversation (topic `rating.received`).

    Fields: `avro/reason_given.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.ReasonGiven"

    event_id: str
    update_id: int
    request_id: str
    issue_id: str
    reason_code: str | None = None
    text: str | None = None
    from_user_id: int
    chat_id: int | None = None
    given_at: datetime


@dataclass(frozen=True, kw_only=True)
class RatingRecorded(Record):
    """A rating that counts: the first valid press of the right user (topic `rating.recorded`). Carries what reports need at the moment of rating.

    Fields: `avro/rating_recorded.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.RatingRecorded"

    event_id: str
    request_id: str
    issue_id: str
    score: int
    from_user_id: int
    chat_id: int | None = None
    message_id: int | None = None
    update_id: int
    requested_at: datetime
    pressed_at: datetime
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


@dataclass(frozen=True, kw_only=True)
class RatingRejected(Record):
    """A press that does not count, with the reason (topic `rating.recorded`).

    Fields: `avro/rating_rejected.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.RatingRejected"

    event_id: str
    request_id: str
    issue_id: str
    reason: str
    score: int | None = None
    standing_score: int | None = None
    from_user_id: int
    chat_id: int | None = None
    message_id: int | None = None
    update_id: int
    pressed_at: datetime


@dataclass(frozen=True, kw_only=True)
class ReasonRecorded(Record):
    """A reason for a recorded low rating (3 or less), recorded once per reason code (topic `rating.recorded`).

    Fields: `avro/reason_recorded.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.ReasonRecorded"

    event_id: str
    request_id: str
    issue_id: str
    score: int
    reason_code: str | None = None
    text: str | None = None
    from_user_id: int
    update_id: int
    given_at: datetime
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


@dataclass(frozen=True, kw_only=True)
class PortalRatingRecorded(Record):
    """A rating the client gave in the Okdesk portal while a request was open (topic `rating.recorded`); counted apart, on Okdesk's 3-point scale.

    Fields: `avro/portal_rating_recorded.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.PortalRatingRecorded"

    event_id: str
    request_id: str | None = None
    issue_id: str
    rate: str
    rated_at: datetime
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
