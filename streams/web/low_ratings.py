"""The latest low ratings (score <= 2), which no snapshot holds: an incremental tail of
`rating.recorded` (and of `contact.links`, to leave forgotten contacts out) that keeps the newest
`KEEP_LOW` and the display names seen on recorded ratings."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from schemas.codec import DecodeError, decode
from schemas.records import ContactLink, RatingRecorded, ReasonRecorded
from streams.stats.facts import FREE_TEXT_REASON

log = logging.getLogger("okrate.streams.web")

LOW_SCORE = 2  # a "low rating": this score or less
LATEST_LOW = 20  # low ratings shown
KEEP_LOW = 200  # low ratings kept in memory (some may belong to contacts forgotten later)
TAIL_BUDGET = 2.0  # seconds a data request may spend catching up on `rating.recorded`


# -- the latest low ratings: a tail of `rating.recorded` ------------------------------------------


@dataclass(frozen=True)
class LowRating:
    request_id: str
    issue_id: str
    score: int
    rated_at: datetime
    contact_id: str | None  # to leave forgotten contacts out; never shown
    title: str | None = None
    type_code: str | None = None
    company_id: str | None = None
    assignee_id: str | None = None
    group_id: str | None = None
    reasons: tuple[str, ...] = ()

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.rated_at, self.request_id)


@dataclass
class Names:
    """Display names seen on recorded ratings (the snapshots carry only ids)."""

    company: dict[str, str] = field(default_factory=dict)
    assignee: dict[str, str] = field(default_factory=dict)
    group: dict[str, str] = field(default_factory=dict)
    type: dict[str, str] = field(default_factory=dict)

    def take(self, r: RatingRecorded) -> None:
        for table, key, name in ((self.company, r.company_id, r.company_name),
                                 (self.assignee, r.assignee_employee_id, r.assignee_employee_name),
                                 (self.group, r.assignee_group_id, r.assignee_group_name),
                                 (self.type, r.type_code, r.type_name)):
            if key and name:
                table[key] = name

    def copy(self) -> Names:
        return Names(dict(self.company), dict(self.assignee), dict(self.group), dict(self.type))


@dataclass(frozen=True)
class TailView:
    low: list[LowRating]  # newest first, forgotten contacts left out, at most LATEST_LOW
    names: Names
    complete: bool  # the tail had reached the end of its topics (as of the request)


class LowRatingsTail:
    """The newest low ratings of `rating.recorded`, and the contacts forgotten in `contact.links`:
    an incremental reader (every partition, no consumer group) caught up on demand."""

    def __init__(self, bootstrap: str, recorded_topic: str, links_topic: str,
                 keep: int = KEEP_LOW, timeout: float = 10.0, group: str = "okrate-dashboard"):
        self.bootstrap, self.timeout, self.keep = bootstrap, timeout, keep
        self.group = group  # the deployment's (`base.names.group`); a random tail is added
        self.topics = (recorded_topic, links_topic)
        self._lock = threading.Lock()
        self._consumer: Consumer | None = None
        self._next: dict[tuple[str, int], int] = {}
        self._low: dict[str, LowRating] = {}  # request id -> rating
        self._floor: tuple[datetime, str] | None = None  # everything at or below was evicted
        self._forgotten: set[str] = set()
        self._names = Names()
        self._complete = False

    def _start(self) -> Consumer:
        consumer = Consumer({
            "bootstrap.servers": self.bootstrap,
            "group.id": f"{self.group}-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False, "enable.partition.eof": False, "log_level": 3,
        })
        assignment = []
        for topic in self.topics:
            meta = consumer.list_topics(topic, timeout=self.timeout).topics[topic]
            for partition in sorted(meta.partitions):
                assignment.append(TopicPartition(topic, partition, OFFSET_BEGINNING))
                self._next[(topic, partition)] = 0
        consumer.assign(assignment)
        return consumer

    def read(self, budget: float = TAIL_BUDGET, latest: int = LATEST_LOW) -> TailView:
        """Catches up towards the topics' ends (as of now) for at most `budget` seconds."""
        with self._lock:
            if self._consumer is None:
                self._consumer = self._start()
            consumer = self._consumer
            ends: dict[tuple[str, int], int] = {}
            for (topic, partition), next_offset in self._next.items():
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=self.timeout, cached=False)
                ends[(topic, partition)] = high
                self._next[(topic, partition)] = max(next_offset, low)
            deadline = time.monotonic() + budget
            while True:
                behind = any(self._next[tp] < ends[tp] for tp in ends)
                if not behind or time.monotonic() >= deadline:
                    break
                for msg in consumer.consume(500, timeout=min(0.5, budget)):
                    if msg.error():
                        continue
                    self._next[(msg.topic(), msg.partition())] = msg.offset() + 1
                    self._take(msg.topic(), msg.value())
            self._complete = not behind
            shown = sorted((r for r in self._low.values() if r.contact_id not in self._forgotten),
                           key=lambda r: r.order, reverse=True)[:latest]
            return TailView(shown, self._names.copy(), self._complete)

    def _take(self, topic: str, value: bytes | None) -> None:
        if value is None:
            return
        try:
            record = decode(value)
        except DecodeError:
            return  # the dead-letter topic tells about these
        if topic == self.topics[1]:
            if isinstance(record, ContactLink) and record.state == "forgotten":
                self._forgotten.add(record.contact_id)
            return
        if isinstance(record, RatingRecorded):
            self._names.take(record)
            if record.score <= LOW_SCORE and record.request_id not in self._low:
                self._add(LowRating(
                    request_id=record.request_id, issue_id=record.issue_id, score=record.score,
                    rated_at=record.pressed_at, contact_id=record.contact_id, title=record.title,
                    type_code=record.type_code, company_id=record.company_id,
                    assignee_id=record.assignee_employee_id, group_id=record.assignee_group_id))
        elif isinstance(record, ReasonRecorded):
            rating = self._low.get(record.request_id)
            code = record.reason_code or FREE_TEXT_REASON  # as the statistics count it
            if rating is not None and code not in rating.reasons:
                self._low[record.request_id] = replace(rating, reasons=(*rating.reasons, code))

    def _add(self, rating: LowRating) -> None:
        if self._floor is not None and rating.order <= self._floor:
            return  # older than what was already evicted (or an evicted one redelivered)
        self._low[rating.request_id] = rating
        if len(self._low) > self.keep:
            oldest = min(self._low.values(), key=lambda r: r.order)
            del self._low[oldest.request_id]
            self._floor = oldest.order

    def close(self) -> None:
        with self._lock:
            if self._consumer is not None:
                self._consumer.close()
                self._consumer = None
