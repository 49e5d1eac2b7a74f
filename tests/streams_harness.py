"""Running the Faust streams app in a test, and feeding and reading its topics."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from confluent_kafka import Producer

from base.kafka_clients import producer_config
from base.settings import Settings
from schemas.codec import decode, encode
from schemas.records import OkdeskWebhookEnvelope, Record, utc_now
from schemas.topics import OKDESK_EVENTS, TopicSpec
from streams.app import StreamsApp, StreamsConfig
from streams.assembly import create_app
from tests.kafka_helpers import read_topic


@asynccontextmanager
async def running_streams(settings: Settings, bootstrap: str, data_dir: Path, app_id: str | None = None) -> AsyncIterator[StreamsApp]:
    app = create_app(StreamsConfig(
        settings=settings, bootstrap=bootstrap, app_id=app_id or f"okrate-test-{uuid.uuid4().hex[:8]}",
        data_dir=data_dir, store="memory://", metadata_max_age_ms=1000,
    ))
    await app.faust.start()
    try:
        yield app
    finally:
        await app.faust.stop()


class Feeder:
    """Writes records (or raw webhook bodies) to the test's topics with confluent-kafka."""

    def __init__(self, settings: Settings, bootstrap: str):
        self.settings = settings
        # log_level 0: the session broker stops before the garbage collector gets to this producer.
        self.producer = Producer(producer_config(bootstrap, log_level=0))

    def record(self, spec: TopicSpec, key: str | bytes, record: Record) -> None:
        self.raw(spec, key, encode(record))

    def raw(self, spec: TopicSpec, key: str | bytes, value: bytes) -> None:
        key_bytes = key.encode() if isinstance(key, str) else key
        self.producer.produce(spec.full_name(self.settings), key=key_bytes, value=value)
        assert self.producer.flush(30) == 0

    def webhook(self, key: str, body: bytes, received_at=None) -> None:
        envelope = OkdeskWebhookEnvelope(
            delivery_id=str(uuid.uuid4()), received_at=received_at or utc_now(), body=body,
            path="/okdesk-webhook", issue_id=key,
        )
        self.record(OKDESK_EVENTS, key, envelope)


async def wait_for(bootstrap: str, settings: Settings, spec: TopicSpec,
                   done: Callable[[list[Record]], bool], timeout: float = 60.0) -> list[Record]:
    """The topic's decoded records once `done(records)` holds (fails after `timeout`)."""
    deadline = time.monotonic() + timeout
    records: list[Record] = []
    while time.monotonic() < deadline:
        raw = await asyncio.to_thread(read_topic, bootstrap, spec.full_name(settings))
        records = [decode(r.value) for r in raw]
        if done(records):
            return records
        await asyncio.sleep(0.5)
    raise AssertionError(f"{spec.name}: condition not met within {timeout}s; have {records!r}"[:3000])


class FakeProducer:
    """librdkafka's producer as `Outputs` uses it: delivery reports only when the test says so."""

    def __init__(self):
        self.produced: list[tuple[str, int, bytes, bytes | None]] = []
        self._reports: list = []

    def produce(self, topic, key=None, value=None, partition=-1, on_delivery=None):
        self.produced.append((topic, partition, key, value))
        self._reports.append(on_delivery)

    def poll(self, _timeout=0):
        return 0

    def flush(self, _timeout=0):
        return len(self._reports)

    def deliver_all(self):
        reports, self._reports = self._reports, []
        for report in reports:
            report(None, _DeliveredMessage(len(self.produced)))


class _DeliveredMessage:
    def __init__(self, offset):
        self._offset = offset

    def offset(self):
        return self._offset
