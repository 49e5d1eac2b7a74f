"""The callback data of okrate's inline buttons: a contract between the notifier, which puts it
on the buttons, and the streams, which read the presses.

Telegram allows at most 64 bytes, and the data is untrusted input: anyone can send any bytes.
`r:<request id>:<score>` is a rating, `w:<request id>:<reason number>` a low-score reason; the
request id starts with the issue id, so a press can be re-keyed by issue without a lookup.
`c:<name>` buttons belong to the bot's conversations (the notifier), not to the ratings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64
_REQUEST_ID = r"(?P<issue>[0-9A-Za-z_-]{1,32})\.(?P<partition>\d{1,5})\.(?P<offset>\d{1,19})"
_RATING = re.compile(rf"r:{_REQUEST_ID}:(?P<score>\d)")
_REASON = re.compile(rf"w:{_REQUEST_ID}:(?P<reason>\d{{1,2}})")


NEW_ISSUE = "c:new_issue"  # «Создать новую заявку»
_CONVERSATION = re.compile(r"c:[a-z_]{1,40}(:[0-9A-Za-z_.-]{1,20})?")


def is_conversation(data: str | None) -> bool:
    """A button of the bot's own conversations: the streams leave it to the notifier."""
    return bool(data) and _CONVERSATION.fullmatch(data) is not None


@dataclass(frozen=True)
class RatingPress:
    request_id: str
    issue_id: str
    score: int  # as claimed: the streams check it is 1..5


@dataclass(frozen=True)
class ReasonPress:
    request_id: str
    issue_id: str
    reason_index: int  # position in RATING_REASONS


def issue_id_of(request_id: str) -> str:
    return request_id.rsplit(".", 2)[0]


def _checked(data: str) -> str:
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data {data!r} is longer than {MAX_BYTES} bytes")
    return data


def rating_data(request_id: str, score: int) -> str:
    return _checked(f"r:{request_id}:{score}")


def reason_data(request_id: str, reason_index: int) -> str:
    return _checked(f"w:{request_id}:{reason_index}")


def parse(data: str | None) -> RatingPress | ReasonPress | None:
    """The press, or None for data okrate did not make (foreign, forged or malformed)."""
    if not data or len(data.encode("utf-8", "replace")) > MAX_BYTES:
        return None
    if match := _RATING.fullmatch(data):
        request_id = f"{match['issue']}.{match['partition']}.{match['offset']}"
        return RatingPress(request_id, match["issue"], int(match["score"]))
    if match := _REASON.fullmatch(data):
        request_id = f"{match['issue']}.{match['partition']}.{match['offset']}"
        return ReasonPress(request_id, match["issue"], int(match["reason"]))
    return None
