"""A dimension's state as the public `StatsSnapshot` (topic `rating.stats`, `GET /stats`).

Everything in it is a function of the state alone (no wall clock: `updated_at` is the latest event
time folded in), so a refold publishes byte-identical snapshots.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from schemas.records import StatsSnapshot
from streams.stats.fold import BUCKET_BOUNDS, DimensionState, Durations

TOP_N = 10
SCORES = ("1", "2", "3", "4", "5")


def _grouped(counts: dict[str, int]) -> dict[str, dict[str, int]]:
    """`{"score.5": 2, "types.x": 1, "sent": 3}` -> `{"score": {"5": 2}, "types": {"x": 1}}` (one pass)."""
    out: dict[str, dict[str, int]] = {}
    for key, value in counts.items():
        prefix, dot, rest = key.partition(".")
        if dot and value:
            out.setdefault(prefix, {})[rest] = value
    return out


def top(counts: dict[str, int], n: int = TOP_N) -> dict[str, int]:
    """The `n` largest, by count then key (a stable order for equal counts)."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return dict(ranked)


def buckets(durations: Durations) -> dict[str, int]:
    order = [str(b) for b in BUCKET_BOUNDS] + ["inf"]
    return {key: durations.buckets[key] for key in order if durations.buckets.get(key)}


def snapshot(state: DimensionState) -> StatsSnapshot:
    counts = state.counts
    ratings = counts.get("ratings", 0)
    ratings_sum = counts.get("ratings_sum", 0)
    delivered = counts.get("delivered", 0)
    groups = _grouped(counts)
    scores = groups.get("score", {})
    return StatsSnapshot(
        dimension=state.dimension,
        ratings_count=ratings,
        ratings_sum=ratings_sum,
        ratings_average=round(ratings_sum / ratings, 4) if ratings else None,
        score_counts={s: scores.get(s, 0) for s in SCORES},
        portal_rate_counts=dict(sorted(groups.get("portal", {}).items())),
        requests_sent=counts.get("sent", 0),
        requests_delivered=delivered,
        requests_undeliverable=counts.get("undeliverable", 0),
        requests_reminded=counts.get("reminded", 0),
        requests_expired=counts.get("expired", 0),
        requests_closed=dict(sorted(groups.get("closed", {}).items())),
        response_rate=round(ratings / delivered, 4) if delivered else None,
        resolution_time_count=state.resolution.count,
        resolution_time_buckets=buckets(state.resolution),
        resolution_time_p50_seconds=state.resolution.percentile(0.5),
        resolution_time_p90_seconds=state.resolution.percentile(0.9),
        reaction_time_count=state.reaction.count,
        reaction_time_buckets=buckets(state.reaction),
        reaction_time_p50_seconds=state.reaction.percentile(0.5),
        reaction_time_p90_seconds=state.reaction.percentile(0.9),
        top_types=top(groups.get("types", {})),
        top_low_score_types=top(groups.get("low_types", {})),
        top_reasons=top(groups.get("reasons", {})),
        events_counted=state.events_counted,
        updated_at=datetime.fromtimestamp((state.updated_at or 0) / 1000, UTC),
    )


def as_json(snap: StatsSnapshot) -> dict[str, Any]:
    """A snapshot as JSON-ready data (`GET /stats`)."""
    doc = asdict(snap)
    doc["updated_at"] = snap.updated_at.isoformat().replace("+00:00", "Z")
    return doc
