"""The broker a benchmark runs against: KAFKA_BOOTSTRAP_SERVERS, or a throw-away local one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import free_port


@contextmanager
def bench_broker() -> Iterator[str]:
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    from okrate.local_kafka import LocalKafka

    with tempfile.TemporaryDirectory(prefix="okrate-bench-kafka-") as tmp:
        port = free_port()
        broker = LocalKafka(Path(tmp), port if port < 65000 else 29092)
        broker.up(log=lambda _m: None)
        try:
            yield broker.bootstrap
        finally:
            broker.down(log=lambda _m: None)
