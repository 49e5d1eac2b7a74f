"""Internal commands of the streams' own clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from schemas.records.base import Record


@dataclass(frozen=True, kw_only=True)
class ClockTick(Record):
    """The streams' clock reached `now` for an issue: reminders, expiries and held presses may be due.

    Fields: `avro/clock_tick.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.ClockTick"

    issue_id: str
    now: datetime
