"""The intent/outcome log on `notifier.outcomes` (keyed by issue id).

Before a side effect the notifier records an intent, after it an outcome; `OutcomeLog` is what
those records say, per idempotency key. On start it is rebuilt by reading the topic to its end,
so a redelivered or reprocessed event finds its step done, and an intent a crash left without
outcome is recognised (Telegram: sent again as `possible_duplicate`; Okdesk: reconciled).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable

from confluent_kafka import Consumer, KafkaException, TopicPartition

from base.publisher import KafkaPublisher, PublishFailed
from base.topic_reader import watermarks
from notifier.decide import KIND, Delivery, Entry
from schemas.codec import DecodeError, decode, encode
from schemas.keys import issue_key
from schemas.records import SideEffectIntent, SideEffectOutcome, utc_now

log = logging.getLogger("okrate.notifier.outcomes")


class OutcomeLog:
    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self._by_request: dict[str, dict[int | None, str]] = {}  # request id -> user -> send key
        self.statuses: Counter[str] = Counter()

    def get(self, key: str) -> Entry | None:
        return self.entries.get(key)

    def apply(self, record: SideEffectIntent | SideEffectOutcome) -> None:
        entry = self.entries.get(record.idempotency_key)
        if entry is None:
            entry = self.entries[record.idempotency_key] = Entry(record.idempotency_key)
        entry.kind = record.kind
        entry.issue_id = record.issue_id or entry.issue_id
        entry.request_id = record.request_id or entry.request_id
        entry.user_id = record.recipient_user_id if record.recipient_user_id is not None else entry.user_id
        entry.chat_id = record.recipient_chat_id if record.recipient_chat_id is not None else entry.chat_id
        if isinstance(record, SideEffectIntent):
            entry.intents += 1
            entry.last_attempt = max(entry.last_attempt, record.attempt)
            if entry.first_intended_at is None:
                entry.first_intended_at = record.intended_at.timestamp()
            entry.intent_details = {**entry.intent_details, **record.details}
            if entry.status is not None and record.attempt > 1:
                entry.status = None  # a new attempt after a recorded one (not used today)
        else:
            entry.status = record.status
            entry.error = record.error
            entry.last_attempt = max(entry.last_attempt, record.attempt)
            if record.telegram_message_id is not None:
                entry.message_id = record.telegram_message_id
            if record.okdesk_comment_id is not None:
                entry.okdesk_comment_id = record.okdesk_comment_id
            entry.outcome_details = {**entry.outcome_details, **record.details}
            self.statuses[f"{record.kind}:{record.status}"] += 1
        if entry.kind == KIND["request"] and entry.request_id:
            self._by_request.setdefault(entry.request_id, {})[entry.user_id] = entry.key

    def deliveries(self, request_id: str) -> list[Delivery]:
        """The request's messages: every recipient it was sent (or is being sent) to."""
        out = []
        for key in self._by_request.get(request_id, {}).values():
            e = self.entries[key]
            if e.chat_id is not None and e.status not in ("failed", "undeliverable"):
                out.append(Delivery(e.user_id, e.chat_id, e.message_id, e.outcome_details.get("text")))
        return out

    def pending(self, kind_prefix: str) -> list[Entry]:
        """Intents without outcome, of kinds starting with `kind_prefix`."""
        return [e for e in self.entries.values()
                if e.status is None and e.intents and e.kind.startswith(kind_prefix)]


class Recorder:
    """Writes intents and outcomes (waiting for acks=all) and applies them to the log. A record
    that cannot be written is retried: nothing is done to the outside world without its intent."""

    def __init__(self, publisher: KafkaPublisher, topic: str, outcome_log: OutcomeLog, timeout: float = 30.0):
        self.publisher = publisher
        self.topic = topic
        self.log = outcome_log
        self.timeout = timeout

    async def _write(self, record: SideEffectIntent | SideEffectOutcome, message_key: str | None = None) -> None:
        # keyed by issue id; what concerns no issue (yet) by its own key: `new:<update id>`, `chat:<id>`
        key = message_key.encode() if message_key else issue_key(record.issue_id or record.idempotency_key.split(":", 1)[0])
        value = encode(record)
        delay = 0.5
        while True:
            try:
                await self.publisher.publish(self.topic, key, value, timeout=self.timeout)
                break
            except PublishFailed as exc:
                log.warning("could not record %s %s: %s; retrying", type(record).__name__, record.idempotency_key, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        self.log.apply(record)

    async def intent(self, *, key: str, kind: str, issue_id: str | None, request_id: str | None,
                     user_id: int | None = None, chat_id: int | None = None, attempt: int = 1,
                     details: dict[str, str] | None = None, message_key: str | None = None) -> None:
        await self._write(SideEffectIntent(
            idempotency_key=key, kind=kind, issue_id=issue_id, request_id=request_id,
            recipient_user_id=user_id, recipient_chat_id=chat_id, attempt=attempt,
            intended_at=utc_now(), details=details or {},
        ), message_key)

    async def outcome(self, *, key: str, kind: str, status: str, issue_id: str | None,
                      request_id: str | None, user_id: int | None = None, chat_id: int | None = None,
                      attempt: int = 1, telegram_message_id: int | None = None,
                      okdesk_comment_id: str | None = None, http_status: int | None = None,
                      error: str | None = None, details: dict[str, str] | None = None,
                      message_key: str | None = None) -> None:
        await self._write(SideEffectOutcome(
            idempotency_key=key, kind=kind, status=status, issue_id=issue_id, request_id=request_id,
            recipient_user_id=user_id, recipient_chat_id=chat_id, attempt=attempt,
            completed_at=utc_now(), telegram_message_id=telegram_message_id,
            okdesk_comment_id=okdesk_comment_id, http_status=http_status,
            error=error[:1000] if error else None, details=details or {},
        ), message_key)


def read_to_end(bootstrap: str, topic: str, timeout: float = 30.0,
                group: str = "okrate-notifier-rebuild") -> Iterable[bytes]:
    """Every message of `topic` up to its end now, partition by partition (a blocking call). The
    consumer assigns partitions itself and commits nothing; `group` is the deployment's
    (`base.names.group(settings, "notifier-rebuild")`)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False, "log_level": 3})
    try:
        meta = consumer.list_topics(topic, timeout=timeout).topics[topic]
        if meta.error is not None:
            raise KafkaException(meta.error)
        ends: dict[int, int] = {}
        assignment = []
        deadline = time.monotonic() + timeout
        for p in meta.partitions:
            low, high = watermarks(consumer, topic, p, timeout)
            if high > low:
                ends[p] = high
                assignment.append(TopicPartition(topic, p, low))
        consumer.assign(assignment)
        while ends:
            msg = consumer.poll(1.0)
            if msg is None:
                if time.monotonic() > deadline + timeout:
                    raise TimeoutError(f"reading {topic} to its end took too long")
                continue
            if msg.error():
                continue
            if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                ends.pop(msg.partition(), None)
            yield msg.value()
    finally:
        consumer.close()


def rebuild(bootstrap: str, topic: str, group: str = "okrate-notifier-rebuild") -> OutcomeLog:
    outcome_log = OutcomeLog()
    count = 0
    for value in read_to_end(bootstrap, topic, group=group):
        try:
            outcome_log.apply(decode(value, (SideEffectIntent, SideEffectOutcome)))
            count += 1
        except DecodeError as exc:
            log.warning("skipping an undecodable record in %s: %s", topic, exc)
    log.info("rebuilt the outcome log from %d records (%d keys)", count, len(outcome_log.entries))
    return outcome_log
