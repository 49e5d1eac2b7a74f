"""The statistics snapshot of one dimension, and the effects folded into it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from schemas.records.base import Record


@dataclass(frozen=True, kw_only=True)
class StatsSnapshot(Record):
    """The latest statistics of one dimension (topic `rating.stats`, compacted, keyed by dimension).

    Fields: `avro/stats_snapshot.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.StatsSnapshot"

    dimension: str
    ratings_count: int
    ratings_sum: int
    ratings_average: float | None = None
    score_counts: dict[str, int] = field(default_factory=dict)
    portal_rate_counts: dict[str, int] = field(default_factory=dict)
    requests_sent: int
    requests_delivered: int
    requests_undeliverable: int
    requests_reminded: int
    requests_expired: int
    requests_closed: dict[str, int] = field(default_factory=dict)
    response_rate: float | None = None
    resolution_time_count: int
    resolution_time_buckets: dict[str, int] = field(default_factory=dict)
    resolution_time_p50_seconds: float | None = None
    resolution_time_p90_seconds: float | None = None
    reaction_time_count: int
    reaction_time_buckets: dict[str, int] = field(default_factory=dict)
    reaction_time_p50_seconds: float | None = None
    reaction_time_p90_seconds: float | None = None
    top_types: dict[str, int] = field(default_factory=dict)
    top_low_score_types: dict[str, int] = field(default_factory=dict)
    top_reasons: dict[str, int] = field(default_factory=dict)
    events_counted: int
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class StatsEffects(Record):
    """What a batch of decision events adds to one dimension (internal topic
    `okrate-streams.stats.by-dimension`, keyed by dimension): `effects[i]` (JSON, see
    `streams.stats.fold.Effect`) came from the decision event at `positions[i]`.

    Fields: `avro/stats_effects.v1.avsc`.
    """

    AVRO_NAME: ClassVar[str] = "okrate.StatsEffects"

    dimension: str
    positions: list[str] = field(default_factory=list)
    effects: list[str] = field(default_factory=list)
