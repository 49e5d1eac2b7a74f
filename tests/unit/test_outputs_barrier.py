"""The agents' output barrier (streams.outputs): an input event is acked only when its
own outputs (its table writes among them) and those of every event before it in its partition were
stored."""

from __future__ import annotations

from streams.outputs import OrderedAcks, Waiting
from tests.streams_harness import FakeProducer


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


class _Event:
    def __init__(self, offset):
        self.message = type("M", (), {"tp": "in-0", "partition": 0, "offset": offset})()


class _Stream:
    def __init__(self):
        self.acked: list = []

    async def ack(self, event):
        self.acked.append(event)


async def test_an_event_is_acked_only_once_its_table_writes_are_stored_with_its_outputs():
    from streams.outputs import Outputs

    async def crash(exc):
        raise AssertionError(exc)

    outputs = Outputs("127.0.0.1:9", crash=crash, prompt_topics={"rating.requested"})
    outputs._prompt = prompt = FakeProducer()
    outputs._batch = batch = FakeProducer()
    event, stream, persisted = _Event(7), _Stream(), []
    outputs.stage(event, "app-issues-changelog", 0, b"1380", b'{"issue_id":"1380"}', persisted.append)
    outputs.stage(event, "app-stats-issues-changelog", 0, b"1380", None, persisted.append)
    waiting = await outputs.emit(stream, event, [("rating.requested", b"1380", b"request"),
                                                 ("issue.events", b"1380", b"event")])
    # The request goes through the prompt producer; the changelog records, to the input event's
    # partition, and the issue event through the batch one.
    assert [(topic, partition) for topic, partition, _, _ in prompt.produced] == [("rating.requested", -1)]
    assert [(topic, partition) for topic, partition, _, _ in batch.produced] == [
        ("app-issues-changelog", 0), ("app-stats-issues-changelog", 0), ("issue.events", -1)]
    assert waiting.outstanding == 4 and stream.acked == []  # nothing stored yet: not acked
    batch.deliver_all()
    await outputs.drain(timeout=0)
    assert stream.acked == [] and len(persisted) == 2  # the table writes are stored, the request is not
    prompt.deliver_all()
    await outputs.drain(timeout=0)
    assert stream.acked == [event]
    # A later event of the same input does not take the earlier one's staged writes.
    later = _Event(8)
    await outputs.emit(stream, later, [])
    assert len(prompt.produced) + len(batch.produced) == 4

