"""Which dimensions a fact counts in: `all`, `company:<id>`, `assignee:<id>`, `group:<id>`,
`type:<code>`, `day:YYYY-MM-DD` and `week:YYYY-Www` (ISO week), the last two by the fact's event
time in `STATS_TIMEZONE`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
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
        at = datetime.fromtimestamp(at / 1000, UTC)
    elif at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone(tz))


def day_key(at: datetime | int, tz: str) -> str:
    return f"day:{local(at, tz).date().isoformat()}"


def week_key(at: datetime | int, tz: str) -> str:
    year, week, _ = local(at, tz).isocalendar()
    return f"week:{year}-W{week:02d}"


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def dimensions(attrs: Attrs, at: datetime | int, tz: str) -> list[str]:
    """Every dimension a fact filed under `attrs` at event time `at` counts in, in a fixed order."""
    out = [ALL]
    for prefix, value in (("company", attrs.company), ("assignee", attrs.assignee),
                          ("group", attrs.group), ("type", attrs.type)):
        value = _clean(value)
        if value is not None:
            out.append(f"{prefix}:{value}")
    out.append(day_key(at, tz))
    out.append(week_key(at, tz))
    return out
