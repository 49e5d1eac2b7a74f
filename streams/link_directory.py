"""Every worker's own copy of `contact.links`: who each contact is linked to, read whole.

The issue agent addresses a new rating request from it in the same step that decides it, so a
resolving webhook reaches `rating.requested` through one agent. The topic is compacted and small
(one record per contact), so each worker reads all of its partitions, without a consumer group,
from the beginning, in a thread of its own. The copy may lag: the contacts' side (keyed by
contact, ordered with the links) checks every request against its own state and re-addresses
the ones the copy got wrong, off the critical path (`streams.rules.addressing`).
Not Faust's GlobalTable: it is reported broken with several workers (faust-streaming #283).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from base.kafka_clients import consumer_config
from schemas.codec import DecodeError, decode
from schemas.records import ContactLink

log = logging.getLogger("okrate.streams.links")


@dataclass(frozen=True)
class Recipient:
    telegram_user_id: int
    chat_id: int


class LinkDirectory:
    """`recipient(contact_id)`: the linked user as far as this copy knows, or None."""

    def __init__(self, bootstrap: str | None, topic: str):
        self._bootstrap, self._topic = bootstrap, topic
        self._links: dict[str, Recipient] = {}
        self._caught_up = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def recipient(self, contact_id: str | None) -> Recipient | None:
        return self._links.get(contact_id) if contact_id else None

    def apply(self, link: ContactLink) -> None:
        if link.state == "linked" and link.telegram_user_id is not None:
            self._links[link.contact_id] = Recipient(link.telegram_user_id, link.chat_id or link.telegram_user_id)
        else:
            self._links.pop(link.contact_id, None)

    def start(self) -> None:
        if self._thread is None and self._bootstrap:
            self._thread = threading.Thread(target=self._run, name="okrate-link-directory", daemon=True)
            self._thread.start()

    def wait_caught_up(self, timeout: float) -> bool:
        return self._bootstrap is None or self._caught_up.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._follow()
            except Exception:  # a broker away: the copy keeps what it has and tries again
                log.exception("reading %s failed; retrying", self._topic)
                time.sleep(1.0)

    def _follow(self) -> None:
        consumer = Consumer(consumer_config(self._bootstrap, f"okrate-links-copy-{uuid.uuid4().hex[:8]}"))
        try:
            metadata = consumer.list_topics(self._topic, timeout=10).topics[self._topic]
            parts = sorted(metadata.partitions)
            ends = {p: consumer.get_watermark_offsets(TopicPartition(self._topic, p), timeout=10)[1] for p in parts}
            consumer.assign([TopicPartition(self._topic, p, OFFSET_BEGINNING) for p in parts])
            positions = dict.fromkeys(parts, 0)
            if all(end == 0 for end in ends.values()):
                self._caught_up.set()
            while not self._stop.is_set():
                for message in consumer.consume(500, 0.2):
                    if message.error():
                        continue
                    positions[message.partition()] = message.offset() + 1
                    try:
                        self.apply(decode(message.value(), (ContactLink,)))
                    except DecodeError:
                        continue  # the contacts' side dead-letters it
                if not self._caught_up.is_set() and all(positions[p] >= ends[p] for p in parts):
                    log.info("links copy caught up: %d contacts linked", len(self._links))
                    self._caught_up.set()
        finally:
            consumer.close()
