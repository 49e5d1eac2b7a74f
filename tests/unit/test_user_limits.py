"""The per-user limits (notifier.telegram.limits) as tables: given what the user did, at a moment, what is allowed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notifier import decide
from notifier.decide import Entry
from notifier.okdesk.issue_create import CREATE, created_by
from notifier.telegram.limits import (
    UserLimits,
    after_try,
    decode_times,
    encode_times,
    new_issue_verdict,
    next_local_midnight,
    phone_verdict,
    reason_verdict,
    reasons_given,
    with_reason_given,
)

MSK = "Europe/Moscow"  # UTC+3, no DST
LIMITS = UserLimits(new_issues_per_day=3, phone_links_per_hour=2, reason_max_chars=10, reasons_per_request=2,
                    timezone=MSK)


def utc(hour: int, minute: int = 0, day: int = 3) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


MIDNIGHT_AFTER_DAY_3 = utc(21, 0, day=3)  # 00:00 on the 4th in Moscow


@pytest.mark.parametrize(("created", "now", "allowed", "again_at"), [
    ([], utc(10), True, None),
    ([utc(8), utc(9)], utc(10), True, None),  # two of three
    ([utc(8), utc(9), utc(9, 30)], utc(10), False, MIDNIGHT_AFTER_DAY_3),  # the fourth: tomorrow
    ([utc(8), utc(9), utc(9, 30)], MIDNIGHT_AFTER_DAY_3, True, None),  # the next day, at its first moment
    # the day is the service desk's: 22:00 UTC on the 2nd is already the 3rd in Moscow
    ([utc(22, 0, day=2), utc(8), utc(9)], utc(10), False, MIDNIGHT_AFTER_DAY_3),
    ([utc(20, 59, day=2), utc(8), utc(9)], utc(10), True, None),  # 23:59 on the 2nd in Moscow: yesterday
])
def test_new_issues_per_day(created, now, allowed, again_at):
    verdict = new_issue_verdict(created, now, LIMITS)
    assert (verdict.allowed, verdict.again_at) == (allowed, again_at)


def test_the_last_hour_of_a_25_hour_day_still_counts_that_day():
    berlin = UserLimits(new_issues_per_day=1, timezone="Europe/Berlin")
    late = datetime(2026, 10, 25, 22, 30, tzinfo=UTC)  # 23:30 CET, the day the clocks went back
    morning = datetime(2026, 10, 24, 22, 30, tzinfo=UTC)  # 00:30 CEST the same day
    assert not new_issue_verdict([morning], late, berlin).allowed


def test_the_day_ends_at_local_midnight_across_a_dst_change():
    # Berlin, the night of 2026-10-25: clocks go back at 03:00 CEST to 02:00 CET
    assert next_local_midnight(datetime(2026, 10, 25, 12, tzinfo=UTC), "Europe/Berlin") == \
        datetime(2026, 10, 25, 23, tzinfo=UTC)
    assert next_local_midnight(datetime(2026, 10, 24, 12, tzinfo=UTC), "Europe/Berlin") == \
        datetime(2026, 10, 24, 22, tzinfo=UTC)


@pytest.mark.parametrize(("tries", "now", "allowed", "again_at"), [
    ([], utc(10), True, None),
    ([utc(9, 30)], utc(10), True, None),
    ([utc(9, 20), utc(9, 40)], utc(10), False, utc(10, 20)),  # the older one leaves the hour at 10:20
    ([utc(9, 20), utc(9, 40)], utc(10, 20), True, None),
    ([utc(8), utc(8, 30), utc(9, 20), utc(9, 40)], utc(10), False, utc(10, 20)),  # older ones do not count
    ([utc(9, 10), utc(9, 20), utc(9, 40)], utc(10), False, utc(10, 20)),  # three kept (a lower limit before)
])
def test_phone_links_per_hour(tries, now, allowed, again_at):
    verdict = phone_verdict(tries, now, LIMITS)
    assert (verdict.allowed, verdict.again_at) == (allowed, again_at)


def test_an_attempt_keeps_only_the_last_hour_and_survives_its_encoding():
    kept = after_try([utc(8), utc(9, 30)], utc(10))
    assert kept == [utc(9, 30), utc(10)]
    assert decode_times(encode_times(kept)) == kept
    assert decode_times("garbage,,1796300000") == [datetime.fromtimestamp(1796300000, UTC)]
    assert decode_times(None) == []


@pytest.mark.parametrize(("text", "given_before", "verdict"), [
    ("Долго", 0, "ok"),
    ("x" * 10, 1, "ok"),  # exactly the length allowed
    ("x" * 11, 0, "too_long"),
    ("Долго", 2, "too_many"),
    ("x" * 11, 2, "too_many"),  # enough given: the length does not matter any more
])
def test_free_text_reasons(text, given_before, verdict):
    assert reason_verdict(text, given_before, LIMITS) == verdict


@pytest.mark.parametrize(("kept", "request_id", "given", "after"), [
    (None, "1380.0.1", 0, "1380.0.1 1"),
    ("1380.0.1 1", "1380.0.1", 1, "1380.0.1 2"),
    ("1380.0.1 2", "1400.0.1", 0, "1400.0.1 1"),  # another request starts afresh
    ("nonsense", "1380.0.1", 0, "1380.0.1 1"),
])
def test_reasons_are_counted_per_request(kept, request_id, given, after):
    assert reasons_given(kept, request_id) == given
    assert with_reason_given(kept, request_id) == after


def _creation(key: str, user: int, at: datetime, status: str | None) -> Entry:
    return Entry(key, kind=CREATE, user_id=user, intents=1, first_intended_at=at.timestamp(), status=status)


def test_the_day_count_comes_from_the_intent_log_and_leaves_out_what_okdesk_refused():
    entries = [
        _creation("new:1", 7, utc(8), decide.OK),
        _creation("new:2", 7, utc(9), None),  # under way: counts
        _creation("new:3", 7, utc(9, 30), decide.FAILED),  # Okdesk refused it: the user is not charged
        _creation("new:4", 8, utc(9, 40), decide.OK),  # someone else's
        Entry("1380:request", kind="telegram.request", user_id=7, intents=1, first_intended_at=utc(9).timestamp()),
    ]
    assert created_by(entries, 7) == [utc(8), utc(9)]


def test_the_defaults_are_the_documented_ones():
    from base.settings import load_settings
    from notifier.service import user_limits

    limits = user_limits(load_settings(_env_file=None))
    assert (limits.new_issues_per_day, limits.phone_links_per_hour, limits.reason_max_chars,
            limits.reasons_per_request) == (10, 5, 1000, 3)
