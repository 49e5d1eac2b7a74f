"""What could not be decoded or understood, kept with its origin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from schemas.records.base import Record


@dataclass(frozen=True, kw_only=True)
class DeadLetter(Record):
    """A message okrate could not decode or understand, kept with its origin (topic `okrate.deadletter`, keyed by the source key).

    Fields: `avro/dead_letter.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.DeadLetter"

    reason: str
    error: str
    source_topic: str
    source_partition: int
    source_offset: int
    source_key: bytes | None = None
    value: bytes | None = None
    source_timestamp: datetime | None = None
    consumer: str | None = None
    failed_at: datetime
