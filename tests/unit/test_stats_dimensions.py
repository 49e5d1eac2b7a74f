"""Which dimensions a fact counts in: days and ISO weeks in the statistics' time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.stats.dimensions import Attrs, day_key, dimensions, week_key

MSK = "Europe/Moscow"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("at", "tz", "day", "week"), [
    # 21:30 UTC is 00:30 the next day in Moscow (UTC+3): day and ISO week both move.
    (utc(2026, 11, 29, 21, 30), MSK, "day:2026-11-30", "week:2026-W49"),
    (utc(2026, 11, 29, 20, 59, 59), MSK, "day:2026-11-29", "week:2026-W48"),  # Sunday 23:59:59
    (utc(2026, 11, 29, 21, 0), MSK, "day:2026-11-30", "week:2026-W49"),  # Monday 00:00 exactly
    (utc(2026, 11, 29, 21, 30), "UTC", "day:2026-11-29", "week:2026-W48"),
    (utc(2026, 11, 27, 12, 0), MSK, "day:2026-11-27", "week:2026-W48"),
    # ISO years differ from calendar years around New Year.
    (utc(2026, 12, 31, 21, 0), MSK, "day:2027-01-01", "week:2026-W53"),
    (utc(2027, 1, 3, 20, 59), MSK, "day:2027-01-03", "week:2026-W53"),
    (utc(2027, 1, 3, 21, 0), MSK, "day:2027-01-04", "week:2027-W01"),
    (utc(2025, 12, 28, 21, 0), MSK, "day:2025-12-29", "week:2026-W01"),
    # Epoch milliseconds work as well as datetimes.
    (int(utc(2026, 11, 29, 21, 30).timestamp() * 1000), MSK, "day:2026-11-30", "week:2026-W49"),
])
def test_day_and_week_in_the_time_zone(at, tz, day, week):
    assert day_key(at, tz) == day
    assert week_key(at, tz) == week


@pytest.mark.parametrize(("attrs", "expected"), [
    (Attrs("147", "9", "3", "service"),
     ["all", "company:147", "assignee:9", "group:3", "type:service", "day:2026-11-30", "week:2026-W49"]),
    (Attrs(None, None, None, None), ["all", "day:2026-11-30", "week:2026-W49"]),
    (Attrs(" 147 ", "", None, "it"), ["all", "company:147", "type:it", "day:2026-11-30", "week:2026-W49"]),
])
def test_dimensions_of_a_fact(attrs, expected):
    assert dimensions(attrs, utc(2026, 11, 29, 21, 30), MSK) == expected
