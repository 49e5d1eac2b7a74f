"""Which dimensions a fact counts in: `all`, `company:<id>`, `assignee:<id>`, `group:<id>`,
`type:<code>`, `day:YYYY-MM-DD` and `week:YYYY-Www` (ISO week), the last two by the fact's event
time in `STATS_TIMEZONE`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

ALL = "all"


@dataclass(frozen=True)
class Attrs:
    """What an issue (or a request, or a rating) is filed under at the moment it counts."""

    company: str | None = None
    assignee: str | None = None  # the employee
    group: str | None = None
    type: str | None = None

    def as_list(self) -> list[str | None]:
        return [self.company, self.assignee, self.group, self.type]

    @classmethod
    def from_list(cls, values: list[str | None] | tuple[str | None, ...]) -> Attrs:
        company, assignee, group, type_ = (list(values) + [None] * 4)[:4]
        return cls(company, assignee, group, type_)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(at: datetime | int, tz: str) -> datetime:
    """An event time (datetime, or epoch milliseconds) in the statistics' time zone."""
    if isinstance(at, int):
        return datetime.fromtimestamp(at / 1000, zone(tz))  # = from UTC, then astimezone
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone(tz))


def _day(d: date) -> str:
    return f"day:{d.isoformat()}"


def _week(d: date) -> str:
    year, week, _ = d.isocalendar()
    return f"week:{year}-W{week:02d}"


def day_key(at: datetime | int, tz: str) -> str:
    return _day(local(at, tz).date())


def week_key(at: datetime | int, tz: str) -> str:
    return _week(local(at, tz).date())


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


@lru_cache(maxsize=4096)
def _filed_under(attrs: Attrs) -> tuple[str, ...]:
    out = [ALL]
    for prefix, value in (("company", attrs.company), ("assignee", attrs.assignee),
                          ("group", attrs.group), ("type", attrs.type)):
        value = _clean(value)
        if value is not None:
            out.append(f"{prefix}:{value}")
    return tuple(out)


@lru_cache(maxsize=4096)
def _calendar(d: date) -> tuple[str, str]:
    return _day(d), _week(d)


def dimensions(attrs: Attrs, at: datetime | int, tz: str) -> list[str]:
    """Every dimension a fact filed under `attrs` at event time `at` counts in, in a fixed order.
    (Both parts are cached: on every event's path, and few distinct.)"""
    return [*_filed_under(attrs), *_calendar(local(at, tz).date())]
