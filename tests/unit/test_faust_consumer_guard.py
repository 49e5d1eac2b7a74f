"""The consumer's offset guard: a record past the next expected offset is refused (the partition is
sought back), re-deliveries below it pass, and a hole that cannot be filled does not stall."""

from __future__ import annotations

from faust.types import TP

from streams.faust_consumer import OffsetGuard

P = TP("okdesk.events", 3)


def test_a_prefetched_record_past_the_committed_position_is_refused_until_the_gap_is_read() -> None:
    guard = OffsetGuard()
    guard.reset({P: 0})  # nothing committed yet: the partition starts at its first offset
    assert guard.check(P, 4) is False  # fetched before the rebalance: offsets 0..3 would be skipped
    assert guard.expected[P] == 0
    assert [guard.check(P, offset) for offset in range(0, 6)] == [True] * 6
    assert guard.expected[P] == 6


def test_re_deliveries_after_a_seek_back_pass() -> None:
    guard = OffsetGuard()
    guard.reset({P: 10})
    assert all(guard.check(P, offset) for offset in range(10, 20))
    assert all(guard.check(P, offset) for offset in range(12, 20))  # sought back to 12: processed again
    assert guard.expected[P] == 20


def test_a_hole_that_stays_is_accepted_after_a_few_seeks_rather_than_stalling() -> None:
    guard = OffsetGuard(max_seeks=2)
    guard.reset({P: 5})
    assert [guard.check(P, 9) for _ in range(3)] == [False, False, True]
    assert guard.expected[P] == 10


def test_on_a_compacted_topic_a_hole_is_checked_once_then_accepted() -> None:
    links = TP("contact.links", 0)
    guard = OffsetGuard()
    guard.reset({links: 0})
    assert guard.check(links, 7, may_have_holes=True) is False  # perhaps a stale prefetch: read 0.. first
    assert guard.check(links, 7, may_have_holes=True) is True  # 0..6 compacted away: go on
    assert guard.expected[links] == 8


def test_partitions_it_does_not_know_are_not_guarded() -> None:
    guard = OffsetGuard()
    guard.reset({P: 0})
    guard.forget([P])
    assert guard.check(P, 100) and guard.check(TP("other", 0), 7)
