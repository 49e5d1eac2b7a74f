"""Per-user limits on what one Telegram user can make okrate do to Okdesk. Pure: no clock is read
here, nothing is stored; the conversations hand in what the notifier already keeps.

- New issues: `BOT_NEW_ISSUES_PER_DAY` per user and calendar day (in `STATS_TIMEZONE`, the service
  desk's day); counted from the notifier's own intent log (`notifier.outcomes`, read back on
  start), so a restart does not reset a day's count. Creations Okdesk refused do not count.
- Links by phone: `BOT_PHONE_LINKS_PER_HOUR` contact searches per user in any sliding hour; the
  attempts' times are kept in the chat's state (`bot.state`, compacted, read back on start).
- Free-text reasons: at most `BOT_REASON_MAX_CHARS` characters each, and
  `BOT_REASONS_PER_REQUEST` texts per rating request (their count in the chat's state too).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)

# Names of the limits, as counted on /metrics (`okrate_notifier_limited_total{limit=...}`)
NEW_ISSUES_PER_DAY = "new_issues_per_day"
PHONE_LINKS_PER_HOUR = "phone_links_per_hour"
REASON_TOO_LONG = "reason_max_chars"
REASONS_PER_REQUEST = "reasons_per_request"
LIMITS = (NEW_ISSUES_PER_DAY, PHONE_LINKS_PER_HOUR, REASON_TOO_LONG, REASONS_PER_REQUEST)


@dataclass(frozen=True)
class UserLimits:
    new_issues_per_day: int = 10
    phone_links_per_hour: int = 5
    reason_max_chars: int = 1000
    reasons_per_request: int = 3
    timezone: str = "Europe/Moscow"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    again_at: datetime | None = None  # when refused: the first moment it is allowed again (aware)


ALLOWED = Verdict(True)


def local_midnight(now: datetime, timezone: str, days_on: int = 0) -> datetime:
    """The start of `now`'s calendar day in `timezone`, or of the one `days_on` later (aware, UTC)."""
    zone = ZoneInfo(timezone)
    day = now.astimezone(zone).date() + timedelta(days=days_on)
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def next_local_midnight(now: datetime, timezone: str) -> datetime:
    """The start of the next calendar day in `timezone` (aware, UTC)."""
    return local_midnight(now, timezone, 1)


def new_issue_verdict(created_at: Iterable[datetime], now: datetime, limits: UserLimits) -> Verdict:
    """May the user create one more issue at `now`, having created these (their times)?"""
    day_end = next_local_midnight(now, limits.timezone)
    day_start = local_midnight(now, limits.timezone)
    today = sum(1 for t in created_at if day_start <= t < day_end)
    return ALLOWED if today < limits.new_issues_per_day else Verdict(False, day_end)


def phone_verdict(tries: Iterable[datetime], now: datetime, limits: UserLimits) -> Verdict:
    """May the user's shared phone be searched in Okdesk at `now`, after these attempts?"""
    recent = sorted(t for t in tries if now - HOUR < t <= now)
    if len(recent) < limits.phone_links_per_hour:
        return ALLOWED
    # the attempt that must leave the window before one more fits in it
    return Verdict(False, recent[len(recent) - limits.phone_links_per_hour] + HOUR)


def after_try(tries: Iterable[datetime], now: datetime) -> list[datetime]:
    """The attempts worth keeping once one more is made at `now` (the last hour's)."""
    return sorted([t for t in tries if now - HOUR < t <= now] + [now])


ReasonVerdict = Literal["ok", "too_long", "too_many"]


def reason_verdict(text: str, given_before: int, limits: UserLimits) -> ReasonVerdict:
    """May this free-text reason be passed on, `given_before` texts having been given for the request?"""
    if given_before >= limits.reasons_per_request:
        return "too_many"
    if len(text) > limits.reason_max_chars:
        return "too_long"
    return "ok"


# -- how the chat's state keeps them (ConversationState.data is a map of strings) ------------------

PHONE_TRIES = "phone_tries"  # epoch seconds, comma-separated
REASON_TEXTS = "reason_texts"  # "<request id> <count>"
KEPT_DATA = (PHONE_TRIES, REASON_TEXTS)  # kept from one conversation step to the next


def decode_times(value: str | None) -> list[datetime]:
    out = []
    for part in (value or "").split(","):
        try:
            out.append(datetime.fromtimestamp(float(part), UTC))
        except (ValueError, OverflowError, OSError):
            continue
    return out


def encode_times(times: Iterable[datetime]) -> str:
    return ",".join(str(int(t.timestamp())) for t in times)


def reasons_given(value: str | None, request_id: str) -> int:
    """How many free-text reasons this chat gave for `request_id` (0 for any other request)."""
    request, _, count = (value or "").rpartition(" ")
    return int(count) if request == request_id and count.isdigit() else 0


def with_reason_given(value: str | None, request_id: str) -> str:
    return f"{request_id} {reasons_given(value, request_id) + 1}"
