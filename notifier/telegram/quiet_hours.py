"""Quiet hours (QUIET_HOURS, e.g. `22:00-09:00`, in STATS_TIMEZONE): when a rating request or a
reminder may be sent. Pure: no clock is read here.

Only what okrate starts waits (requests, reminders); answers to what the user does never do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, spec: str | None, timezone: str = "Europe/Moscow") -> QuietHours | None:
        """`22:00-09:00` (crossing midnight) or `13:00-14:00`; None / `off` / equal ends: none."""
        if not spec or spec.strip().lower() == "off":
            return None
        first, _, second = spec.strip().partition("-")
        start, end = time.fromisoformat(first.strip()), time.fromisoformat(second.strip())
        if start == end:
            return None
        return cls(start, end, ZoneInfo(timezone))

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def release_at(self, now: datetime) -> datetime | None:
        """None when something may be sent at `now` (aware); else the end of these quiet hours
        (aware, UTC), the first moment it may be sent."""
        local = now.astimezone(self.zone)
        if not self.contains(local.time().replace(tzinfo=None)):
            return None
        end_day = local.date()
        if self.start > self.end and local.time().replace(tzinfo=None) >= self.start:
            end_day += timedelta(days=1)  # in the evening part: the quiet hours end tomorrow
        naive_end = datetime.combine(end_day, self.end)
        end = naive_end.replace(tzinfo=self.zone)
        # a wall-clock time skipped by a DST change: the first real moment after it
        if end.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None) != naive_end:
            end = (naive_end + timedelta(hours=1)).replace(tzinfo=self.zone)
        return end.astimezone(UTC)


def may_send_at(now: datetime, quiet: QuietHours | None) -> datetime:
    """When a request or reminder arriving at `now` may be sent: `now`, or the quiet hours' end."""
    if quiet is None:
        return now
    return quiet.release_at(now) or now
