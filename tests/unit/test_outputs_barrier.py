"""The agents' output barrier (streams.outputs.OrderedAcks): an input event is acked only when its
own outputs and those of every event before it in its partition were stored."""

from __future__ import annotations

from streams.outputs import OrderedAcks, Waiting


def test_an_event_waits_for_the_events_before_it_in_its_partition():
    acks = OrderedAcks()
    first, second = Waiting("e1", outstanding=2), Waiting("e2", outstanding=0)
    acks.add("p0", first)
    acks.add("p0", second)
    assert acks.ready() == []  # e2 has nothing in flight, but e1 has
    first.outstanding = 1
    assert acks.ready() == []
    first.outstanding = 0
    assert [w.event for w in acks.ready()] == ["e1", "e2"]
    assert len(acks) == 0


def test_partitions_do_not_wait_for_each_other():
    acks = OrderedAcks()
    slow, fast = Waiting("a", outstanding=1), Waiting("b", outstanding=0)
    acks.add("p0", slow)
    acks.add("p1", fast)
    assert [w.event for w in acks.ready()] == ["b"]
    assert len(acks) == 1
