"""Faust's Kafka consumer, made to deliver every offset of a partition, in order, to the agents.

Why. Around rebalances faust-streaming 0.15 can hand its agents a record fetched before the
rebalance, at an offset past the committed position (faust-streaming #221, #216). Faust then
moves its "read offset" to it: with no committed offset yet, the partition's first records, now
below the read offset, are dropped as already read ("DROPPED MESSAGE ROFF"); with one, the
offsets in between are recorded as a "gap" and committed as if processed. Both were seen here
(`make chaos`: the first requests of a partition, and one in the middle, never decided).

What. Every partition the agents read has an expected next offset: the committed position after
each seek, then one past each record delivered. A record past it is not delivered; the partition
is sought back to the expected offset, so the records in between are fetched and processed first.
A record below it (a re-delivery after a seek back) is delivered as usual; processing is
idempotent. On a compacted topic (`contact.links`) holes are legitimate, so a jump that comes
back after one seek is accepted; on the others (no compaction, no transactions) it is logged as
an error after several seeks, and accepted rather than stalling the partition.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Collection
from typing import Any

from faust.transport.drivers.aiokafka import Consumer
from faust.types import TP

log = logging.getLogger("okrate.streams.consumer")

MAX_SEEKS_PER_JUMP = 5


class OffsetGuard:
    """The rule, apart from Faust: per partition the next offset expected; `check` says whether a
    record may be delivered (True) or the partition must be sought back to `expected` (False)."""

    def __init__(self, max_seeks: int = MAX_SEEKS_PER_JUMP):
        self.max_seeks = max_seeks
        self.expected: dict[TP, int] = {}
        self._seeks: Counter[tuple[TP, int]] = Counter()

    def reset(self, positions: dict[TP, int]) -> None:
        self.expected = dict(positions)

    def forget(self, tps: Collection[TP]) -> None:
        for tp in tps:
            self.expected.pop(tp, None)

    def check(self, tp: TP, offset: int, *, may_have_holes: bool = False) -> bool:
        expected = self.expected.get(tp)
        if expected is not None and offset > expected:
            self._seeks[(tp, expected)] += 1
            max_seeks = 1 if may_have_holes else self.max_seeks
            if self._seeks[(tp, expected)] <= max_seeks:
                log.warning("%s[%d]: record at offset %d arrived while %d is next; seeking back to %d",
                            tp.topic, tp.partition, offset, expected, expected)
                return False
            if not may_have_holes:
                log.error("%s[%d]: offsets %d..%d cannot be fetched after %d seeks; going on from %d",
                          tp.topic, tp.partition, expected, offset - 1, max_seeks, offset)
        if tp in self.expected:
            self.expected[tp] = offset + 1
        return True


class ContiguousConsumer(Consumer):
    """Faust's aiokafka consumer with the guard described above, on the agents' input topics
    (`guarded_topics`, names with their prefix; `compacted_topics` among them may have holes)."""

    def __init__(self, *args: Any, guarded_topics: Collection[str] = (), compacted_topics: Collection[str] = (),
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        # The app fills both in as its agents register (before the consumer starts).
        self.guarded_topics, self.compacted_topics = guarded_topics, compacted_topics
        self.guard = OffsetGuard()

    async def perform_seek(self) -> None:
        await super().perform_seek()
        assigned = [tp for tp in self.assignment() if tp.topic in self.guarded_topics]
        committed = {tp: self._committed_offset.get(tp) for tp in assigned}
        unknown = [tp for tp, offset in committed.items() if offset is None]
        earliest = await self.earliest_offsets(*unknown) if unknown else {}
        self.guard.reset({tp: offset if offset is not None else earliest.get(tp, 0)
                          for tp, offset in committed.items()})

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self.guard.forget(revoked)
        await super().on_partitions_revoked(revoked)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        sought: set[TP] = set()
        async for tp, message in super().getmany(timeout):
            if tp in sought:
                continue  # the rest of this batch is from before the seek
            if not self.guard.check(tp, message.offset, may_have_holes=tp.topic in self.compacted_topics):
                sought.add(tp)
                try:
                    await self.seek(tp, self.guard.expected[tp])
                except Exception as exc:  # revoked meanwhile: the next assignment seeks afresh
                    log.warning("%s[%d]: seek back failed (%s: %s); the record is not delivered",
                                tp.topic, tp.partition, type(exc).__name__, exc)
                continue
            yield tp, message
