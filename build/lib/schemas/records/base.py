"""The base of okrate's typed records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar


class Record:
    """A frozen dataclass mirroring the latest version of one Avro record.

    Conventions, the same in every record: Avro `timestamp-millis` fields are timezone-aware
    `datetime`s in UTC (the codec also accepts int epoch milliseconds when encoding, and always
    decodes to `datetime`); Okdesk ids are `str` (they arrive as strings or integers); Telegram ids
    are `int`; optional fields default to None and maps to `{}`.
    """

    __slots__ = ()
    AVRO_NAME: ClassVar[str]


def utc_now() -> datetime:
    """The current time at the precision records keep (milliseconds), so a record compares equal
    to itself after a round trip."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
