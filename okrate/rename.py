"""`okrate rename --from-prefix OLD`: an existing deployment's topics copied under this deployment's
names (`TOPIC_PREFIX`), for when a deployment must be renamed (Kafka cannot rename a topic).

Every topic of the catalogue is copied partition by partition, in order, with its keys, values and
timestamps, so that each issue stays on its partition number. The application's internal topics
and changelogs are not copied: the renamed deployment's application has no offsets yet and decides
everything again from offset 0 of the copied raw topics, as after `okrate replay --switch`
(decisions keep their ids: the notifier skips what it already did, statistics count each once).
The old deployment must be stopped; the new names must be empty.
"""

from __future__ import annotations

from collections.abc import Callable

from confluent_kafka import Producer

from base import names
from base.consumer_lag import end_offsets
from base.kafka_clients import producer_config
from base.settings import Settings
from base.topic_admin import ensure_topics
from base.topic_reader import read_to_end
from okrate.replay import ReplayError, group_is_empty
from schemas.topics import CATALOGUE


def copy_deployment(settings: Settings, bootstrap: str, from_prefix: str,
                    progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copies the catalogue's topics of the deployment `from_prefix` to `settings`' names; returns
    the messages copied per topic (new names)."""
    names.check_prefix(from_prefix)
    source = names.scratch_settings(settings, from_prefix)
    if from_prefix == settings.topic_prefix:
        raise ReplayError("--from-prefix is this deployment's own TOPIC_PREFIX: nothing to rename")
    for what, group in names.groups(source).items():
        if not group_is_empty(bootstrap, group):
            raise ReplayError(f"the old deployment's {what} ({group!r}) is running: stop every service of it first")
    ensure_topics(bootstrap, settings)
    targets = [spec.full_name(settings) for spec in CATALOGUE]
    filled = sorted({tp.topic for tp, end in end_offsets(bootstrap, targets).items() if end > 0})
    if filled:
        raise ReplayError(f"the new names already hold messages ({', '.join(filled)}): rename into an unused TOPIC_PREFIX")
    sources = end_offsets(bootstrap, [spec.full_name(source) for spec in CATALOGUE])
    counts = {t: len([tp for tp in sources if tp.topic == t]) for t in {tp.topic for tp in sources}}
    wrong = sorted(t for t, n in counts.items() if n != settings.topic_partitions)
    if wrong:
        raise ReplayError(f"{', '.join(wrong)}: not {settings.topic_partitions} partitions (TOPIC_PARTITIONS must be the old deployment's)")
    producer = Producer(producer_config(bootstrap, **{"linger.ms": 20}))
    copied: dict[str, int] = {}
    try:
        for spec in CATALOGUE:
            old, new = spec.full_name(source), spec.full_name(settings)
            if old not in counts:
                continue  # the old deployment never made it: nothing to copy
            count = 0
            for message in read_to_end(bootstrap, old, group=names.reader_group(settings, "rename")):
                while True:
                    try:
                        producer.produce(new, key=message.key, value=message.value, partition=message.partition,
                                         timestamp=message.timestamp_ms)
                        break
                    except BufferError:  # the local queue is full: let deliveries drain it
                        producer.poll(0.5)
                count += 1
                if count % 10_000 == 0:
                    producer.poll(0)
                    if progress is not None:
                        progress(new, count)
            if producer.flush(120):
                raise ReplayError(f"Kafka did not acknowledge every message copied to {new}")
            copied[new] = count
    finally:
        producer.flush(30)
    return copied
