"""What the streams know about one issue: its facts, its resolution cycles, its rating requests.

Kept in the `issues` table, keyed by issue id, as JSON (see `streams.state_codec`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.records import RatingReceived


class RequestStatus:
    OPEN = "open"
    CLOSED = "closed"  # deleted, reopened, unlinked, rated_in_portal
    RATED = "rated"
    EXPIRED = "expired"


@dataclass(frozen=True)
class RequestState:
    request_id: str
    cycle: int
    requested_at: datetime
    contact_id: str | None = None
    status: str = RequestStatus.OPEN
    close_reason: str | None = None
    deliverable: bool = False
    recipient_user_id: int | None = None
    recipient_chat_id: int | None = None
    reminded: bool = False
    score: int | None = None
    rated_at: datetime | None = None
    rated_update_id: int | None = None  # the press that was recorded (recognised if processed again)
    reason_codes: tuple[str, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.status == RequestStatus.OPEN


@dataclass(frozen=True)
class IssueState:
    issue_id: str
    status_code: str | None = None
    status_name: str | None = None
    previous_status_code: str | None = None  # the status before the last change (stale updates)
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
    created_at: datetime | None = None  # Okdesk's, or when okrate first saw the issue
    deleted: bool = False
    last_event_time: datetime | None = None
    cycle: int = 0  # resolution cycles so far
    # Okdesk's `completed_at` of the last resolution okrate knows (a sweep's observation with the
    # same one is that resolution again; a later one is a new resolution whose webhooks were lost)
    resolved_at: datetime | None = None
    status_changed_at: datetime | None = None  # when okrate last saw the status change
    trigger: tuple[int, int] | None = None  # (partition, offset) of the raw event that started it
    # (partition, offset) of the last raw event applied: one at or before it is a redelivery
    last_source: tuple[int, int] | None = None
    request: RequestState | None = None  # the current cycle's request, if one was made
    past_request_ids: tuple[str, ...] = ()  # earlier cycles' requests (a press on one is outdated)
    own_comment_ids: tuple[str, ...] = field(default_factory=tuple)  # comments okrate posted
    # Presses naming a request not (yet) known or not yet addressed: inputs from two topics have
    # no order between them, so a press may overtake its request (a reprocess, a rebuild).
    held_presses: tuple[RatingReceived, ...] = ()


def reporting_context(state: IssueState) -> dict[str, str | None]:
    """The issue's facts that every decision carries for reports, as record fields."""
    return {
        "title": state.title, "type_code": state.type_code, "type_name": state.type_name,
        "contact_id": state.contact_id, "company_id": state.company_id, "company_name": state.company_name,
        "assignee_employee_id": state.assignee_employee_id,
        "assignee_employee_name": state.assignee_employee_name,
        "assignee_group_id": state.assignee_group_id, "assignee_group_name": state.assignee_group_name,
    }
