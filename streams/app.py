"""The Faust application: its settings, topics and tables. Agents live in `streams/agents/`.

`create_app` (`streams.assembly`) builds a fresh application each time (tests run several side by side, a rebuild
runs one under another id); `okrate streams` runs the one from the environment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import faust
from faust.exceptions import PartitionsMismatch
from faust.streams import current_event
from faust.types import TP

from base.names import STREAMS_APPLICATION, streams_app_id
from base.settings import Settings
from schemas.topics import (
    CONTACT_LINKS,
    DEADLETTER,
    OKDESK_EVENTS,
    RATING_RECEIVED,
    RATING_RECORDED,
    RATING_REQUESTED,
    TELEGRAM_UPDATES,
    Cleanup,
    TopicSpec,
)
from streams.exposure import web_bind
from streams.faust_consumer import ContiguousConsumer
from streams.link_directory import LinkDirectory
from streams.metrics import StreamsMetrics
from streams.outputs import Output, Outputs, Waiting
from streams.rules import Rules
from streams.table_store import ChangelogBackedTable

DEFAULT_APP_ID = STREAMS_APPLICATION  # of the deployment without a prefix; see base.names


class StatsBatching(NamedTuple):
    max_events: int
    every_s: float


LIVE_STATS_BATCHING = StatsBatching(max_events=1000, every_s=0.1)
# The outputs a client's message or an Okdesk comment waits on: produced with the short linger
# (`streams.outputs`); the rest of the agents' outputs and their tables' changelogs wait longer.
PROMPT_TOPICS = (RATING_REQUESTED, RATING_RECEIVED, RATING_RECORDED)


@dataclass(frozen=True)
class StreamsConfig:
    settings: Settings
    bootstrap: str
    app_id: str | None = None  # None: the deployment's own (`base.names.streams_app_id`)
    data_dir: Path = Path("var/streams")
    web_port: int | None = None  # None: no web server (tests); `okrate streams` uses STATS_PORT
    store: str = "rocksdb://"
    # How soon the app notices topics that appear (Faust's default is minutes; tests use 1 s).
    metadata_max_age_ms: int = 30_000
    # A reprocess reads the live raw topics (this prefix) and writes under settings.topic_prefix;
    # a statistics-only application can read decision topics (`source_topics`) the same way.
    source_prefix: str | None = None
    source_topics: tuple[TopicSpec, ...] | None = None  # None: the raw inputs
    agents: tuple[str, ...] | None = None  # None: every agent; ("stats",): the statistics alone
    # The statistics' fan-out sends a batch when it holds this many events or this often:
    # figures a tenth of a second behind (each batch sends one message per dimension it touches).
    stats_batching: StatsBatching = LIVE_STATS_BATCHING
    # faust-streaming 0.15's repaired Cython fast paths of the stream iterator (off in Faust by
    # default); `bench streams` measures the gain, the suite and `make chaos` run with it.
    cython_optimizations: bool = True

    def __post_init__(self) -> None:
        if self.app_id is None:
            object.__setattr__(self, "app_id", streams_app_id(self.settings))


RAW_INPUTS = (OKDESK_EVENTS, TELEGRAM_UPDATES, CONTACT_LINKS)

# RocksDB sized for a small machine. Faust's defaults (64 MiB write buffers x 3 and a 2 GiB block
# cache) are per store, and there is one store per table and partition (4 tables x 8 partitions
# here): a worker restoring 1,000,000 issues filled its memtables to 3.8 GB. With these, a store
# holds at most 2 x 4 MiB of memtables and 8 MiB of cache: RAM no longer grows with the history
# (the tables live on disk; reads of cold issues cost a disk read).
ROCKSDB_OPTIONS = {
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "target_file_size_base": 16 * 1024 * 1024,
    "block_cache_size": 8 * 1024 * 1024,
    "block_cache_compressed_size": 0,
    "max_open_files": 64,
}


class FaustApp(faust.App):
    """faust.App with three changes (on faust-streaming 0.15 internals):

    - its consumer delivers every offset of the agents' inputs in order, also across
      rebalances (`streams.faust_consumer`);
    - what agents hold back (events not acked yet, because their outputs are batched) is flushed
      before Faust waits for in-flight events, on a rebalance and at shutdown. Without it,
      shutdown would wait forever for events that only a timer (stopped by then) would ack;
    - Faust's Monitor sensor is not called per event (below).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.before_wait_empty: list[Callable[[], Awaitable[None]]] = []
        self.on_stopping: list[Callable[[], Awaitable[None]]] = []
        self.guarded_topics: set[str] = set()
        self.compacted_topics: set[str] = set()

    def _new_consumer(self):
        return ContiguousConsumer(
            self.transport, callback=self.topics.on_message, loop=self.transport.loop,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon, guarded_topics=self.guarded_topics, compacted_topics=self.compacted_topics,
        )

    def on_init_dependencies(self):
        dependencies = super().on_init_dependencies()
        # Faust's Monitor keeps figures for Faust's own web pages, which okrate turns off (its
        # metrics are its own): out of the sensors, each event skips its eight calls into it.
        self.sensors.remove(self.monitor)
        return dependencies

    async def on_stop(self) -> None:
        await super().on_stop()  # the consumer waits for in-flight events (outputs drained) first
        for stopping in self.on_stopping:
            await stopping()

    async def _consumer_wait_empty(self, consumer, logger) -> None:  # faust-streaming 0.15 internal
        for flush in self.before_wait_empty:
            await flush()
        await super()._consumer_wait_empty(consumer, logger)


class OutputTable(ChangelogBackedTable):
    """A table whose changelog records go through the worker's librdkafka producer
    (`streams.outputs`) instead of Faust's send path (about 170 µs of the event loop per write
    through aiokafka against about 25 µs; an issue's webhook writes two tables). Each record is
    produced with the outputs of the event that wrote it (`Outputs.stage`): the event is acked,
    and its offset committed, only once the broker stored its table writes too, which is the
    ordering Faust gets by flushing its producer before a commit. The store's persisted changelog
    offset (where a recovery resumes) is set when the broker acknowledges a record, as Faust
    does. For tables written only by agents that `emit` every event."""

    outputs: Outputs

    def on_key_set(self, key, value) -> None:
        self._stage(key, value)
        self._sensor_on_set(self, key, value)

    def on_key_del(self, key) -> None:
        self._stage(key, None)
        self._sensor_on_del(self, key)

    def _stage(self, key, value) -> None:
        event = current_event()
        if event is None:
            raise TypeError("Cannot modify table key from outside of stream iteration")
        partition = event.message.partition
        self._verify_partitions(event.message.topic)
        topic = self.changelog_topic_name
        tp = TP(topic, partition)
        store = self.data

        def stored(message) -> None:
            store.set_persisted_offset(tp, message.offset())

        self.outputs.stage(event, topic, partition, key, value, stored)

    def _verify_partitions(self, source_topic: str) -> None:
        """Faust's check that the changelog has as many partitions as the input (`_verify_source_
        topic_partitions`), except that a topic the consumer's metadata shows with 0 partitions is
        not known yet rather than a mismatch: a changelog created just before the start (`ensure_
        changelogs`) can show so until the next metadata refresh, and Faust's check then failed
        every write of that moment (a reprocess under load dead-lettered its first contacts)."""
        if source_topic in self._verified_source_topics_for_partitions:
            return
        source_n = self.app.consumer.topic_partitions(source_topic)
        change_n = self.app.consumer.topic_partitions(self.changelog_topic_name)
        if not source_n or not change_n:
            return  # checked again at the next write
        if source_n != change_n:
            raise PartitionsMismatch(
                f"the source topic {source_topic!r} of table {self.name!r} has {source_n} partitions, "
                f"its changelog {self.changelog_topic_name!r} {change_n}")
        self._verified_source_topics_for_partitions.add(source_topic)


class Topics:
    """The Faust topic objects of every topic the agents read or write, by catalogue entry."""

    def __init__(self, app: faust.App, settings: Settings, source_prefix: str | None = None,
                 source_topics: tuple[TopicSpec, ...] = RAW_INPUTS):
        self._app, self._settings = app, settings
        self._source_prefix = source_prefix
        self._source_topics = source_topics
        self._made: dict[str, faust.TopicT] = {}
        self._names: dict[TopicSpec, str] = {}  # looked up for every output

    def name_of(self, spec: TopicSpec) -> str:
        if (name := self._names.get(spec)) is None:
            if self._source_prefix is not None and spec in self._source_topics:
                name = f"{self._source_prefix}{spec.name}"
            else:
                name = spec.full_name(self._settings)
            self._names[spec] = name
        return name

    def __call__(self, *specs: TopicSpec) -> faust.TopicT:
        names = tuple(self.name_of(spec) for spec in specs)
        key = "|".join(names)
        if key not in self._made:
            self._made[key] = self._app.topic(
                *names, partitions=self._settings.topic_partitions,
                key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
                # Topics come from the catalogue (`ensure_topics`), never from Faust.
                internal=False,
            )
        return self._made[key]


class StreamsApp:
    """The app with what its agents share: settings, rules, topics."""

    def __init__(self, config: StreamsConfig):
        settings = config.settings
        self.config, self.settings = config, settings
        self.rules = Rules.from_settings(settings)
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.faust = FaustApp(
            config.app_id,
            broker=[f"kafka://{server.strip()}" for server in config.bootstrap.split(",")],
            store=config.store,
            datadir=str(config.data_dir),
            # At-least-once: faust's exactly-once mode has open crash and duplicate reports
            # (faust-streaming #440, #517, #323); every decision here is idempotent instead.
            processing_guarantee="at_least_once",
            # Keys are raw UTF-8 strings everywhere (never JSON-quoted) so that confluent-kafka
            # producers and Faust put one key on the same partition; values are Avro bytes that
            # the agents decode themselves (Faust would commit past a value it cannot decode).
            key_serializer="raw",
            value_serializer="raw",
            topic_partitions=settings.topic_partitions,
            consumer_auto_offset_reset="earliest",
            # The table and its changelog are written before the outputs are flushed and the
            # offset committed (Faust flushes the producer before every commit).
            broker_commit_interval=1.0,
            consumer_metadata_max_age_ms=config.metadata_max_age_ms,
            producer_metadata_max_age_ms=config.metadata_max_age_ms,
            # Raw envelopes can be up to 4 MiB (schemas.topics.LARGE_MESSAGE_BYTES).
            consumer_max_fetch_size=8 * 1024 * 1024,
            # At most this many records per poll. Faust's default (no limit) hands its fetcher
            # everything prefetched at once; with a backlog (a refold, a worker back after
            # downtime) delivering that to a slow agent took longer than the poll interval
            # (`broker_max_poll_interval`, 1,000 s): the consumer left its group and the worker
            # stalled, idle, without an error. Measured: a refold stalled exactly one poll
            # interval after its start (1,000 s, and 90 s with the interval set to 90 s).
            broker_max_poll_records=500,
            producer_max_request_size=8 * 1024 * 1024,
            producer_acks=-1,
            # A few milliseconds of batching turn one produce request per message into one per
            # batch: aiokafka sends one request at a time per broker.
            producer_linger=0.01,
            producer_compression_type="lz4",
            web_enabled=config.web_port is not None,
            web_port=config.web_port or 6066,
            web_bind=web_bind(settings),  # nobody in by default: streams.web.exposure
            # Faust's own pages (/table, /router, /graph, stats) would show table contents
            # (names, titles) to anyone: okrate serves only its own views.
            web_router_enabled=False,
            web_tables_enabled=False,
            web_graph_enabled=False,
            web_stats_enabled=False,
            # Standbys speed up a failover between several workers; with one worker they idle.
            table_standby_replicas=1,
            cython_optimizations=config.cython_optimizations,
        )
        self.topic = Topics(self.faust, settings, config.source_prefix, config.source_topics or RAW_INPUTS)
        self.metrics = StreamsMetrics()
        self.input_specs: list[TopicSpec] = []
        self.deadletter = self.topic(DEADLETTER)
        self.outputs = Outputs(config.bootstrap, crash=self.faust.crash,
                               prompt_topics={self.topic.name_of(spec) for spec in PROMPT_TOPICS})
        self.faust.before_wait_empty.append(self.outputs.drain)
        self.links = LinkDirectory(config.bootstrap, self.topic.name_of(CONTACT_LINKS))
        self.faust.on_stopping.append(self.outputs.stop)
        self.faust.on_stopping.append(lambda: asyncio.to_thread(self.links.stop))

    def table(self, name: str, *, through_outputs: bool = False) -> faust.Table:
        """A table of JSON states; with `through_outputs`, its changelog goes through the worker's
        librdkafka producer (`OutputTable`: only for tables whose every writer `emit`s)."""
        kind = OutputTable if through_outputs else ChangelogBackedTable
        table = self.faust.tables.add(kind(
            self.faust, name=name, default=None, beacon=self.faust.tables.beacon,
            partitions=self.settings.topic_partitions,
            key_type=bytes, value_type=bytes,  # the app's serializers are raw: values are JSON state
            options=ROCKSDB_OPTIONS if self.config.store.startswith("rocksdb") else None,
        ))
        if through_outputs:
            table.outputs = self.outputs
        return table

    def inputs(self, *specs: TopicSpec) -> faust.TopicT:
        """The topics an agent consumes (remembered for the consumer lag on /metrics)."""
        self.input_specs.extend(s for s in specs if s not in self.input_specs)
        self.faust.guarded_topics.update(self.topic.name_of(s) for s in specs)
        self.faust.compacted_topics.update(self.topic.name_of(s) for s in specs if s.cleanup is not Cleanup.DELETE)
        return self.topic(*specs)

    def output(self, spec: TopicSpec, key: bytes | None, value: bytes) -> Output:
        return (self.topic.name_of(spec), key, value)

    async def emit(self, stream, event, outputs: list[Output], *, held: bool = False) -> Waiting:
        """The event's outputs, produced with librdkafka; the event is acked on `stream` (a
        `noack()` stream) once the broker stored them (`streams.outputs`)."""
        await self.outputs.start()
        return await self.outputs.emit(stream, event, outputs, held=held)

