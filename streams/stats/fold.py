"""The fold of one dimension: effects in, counters out; each source position folded once.

Dedup here is by *source position*: every effect carries the position (`topic:partition:offset`,
topic without prefix) of the decision event whose processing emitted it, and the state keeps, per
source partition, the highest offset folded (`folded`). The fan-out emits at most one effect per
(source message, dimension), in the source partition's order, and a repartition topic keeps the
order of one producer's sends per partition; so a redelivered effect (a fan-out or a fold
restarted past its last commit, a second copy of a whole refold) always has a position at or below
the mark and is skipped. The memory this needs is bounded by the number of source partitions
(4 topics x `TOPIC_PARTITIONS`), whatever the history's length. Duplicates *inside* the decision
topics (the same decision emitted twice at two offsets) are the fan-out's business
(`streams.stats.facts`), where the issue's state lives.

Everything else is commutative (sums, histograms, a max of event times), so the figures do not
depend on how partitions interleave: a refold gives the same state, byte for byte.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import msgspec

# Snapshot histogram: upper bounds in seconds (the last bucket is `inf`).
BUCKET_BOUNDS: tuple[int, ...] = (
    60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 259200, 604800, 1209600, 2592000,
)
# Percentiles are exact while a dimension has at most this many samples (sorted samples kept);
# above it they come from a log-bucketed sketch with 1% relative accuracy (bounded memory).
EXACT_LIMIT = 256
SKETCH_GAMMA = 1.02
_LOG_GAMMA = math.log(SKETCH_GAMMA)
# An effect's JSON, keys sorted: the fan-out writes about six per event (msgspec: about a
# twentieth of `json.dumps`' cost; the same document, floats' exponents written `e-7`, not `e-07`).
_EFFECT_JSON = msgspec.json.Encoder(order="sorted")


@dataclass(frozen=True)
class Effect:
    """What one source message adds to one dimension."""

    at: int  # event time (epoch ms): the latest of the facts' event times
    events: int = 1  # source events whose facts are in this effect
    counts: dict[str, int] = field(default_factory=dict)
    resolution: tuple[float, ...] = ()  # seconds
    reaction: tuple[float, ...] = ()

    def dumps(self) -> bytes:
        doc: dict = {"at": self.at, "ev": self.events, "n": self.counts}
        if self.resolution:
            doc["res"] = list(self.resolution)
        if self.reaction:
            doc["rea"] = list(self.reaction)
        return _EFFECT_JSON.encode(doc)

    @classmethod
    def loads(cls, data: bytes) -> Effect:
        doc = json.loads(data)
        return cls(at=int(doc["at"]), events=int(doc.get("ev", 1)),
                   counts={str(k): int(v) for k, v in doc.get("n", {}).items()},
                   resolution=tuple(float(x) for x in doc.get("res", ())),
                   reaction=tuple(float(x) for x in doc.get("rea", ())))

    def merge(self, other: Effect) -> Effect:
        counts = dict(self.counts)
        for key, value in other.counts.items():
            counts[key] = counts.get(key, 0) + value
        return Effect(at=max(self.at, other.at), events=self.events + other.events, counts=counts,
                      resolution=self.resolution + other.resolution,
                      reaction=self.reaction + other.reaction)


def position(topic: str, partition: int, offset: int) -> str:
    return f"{topic}:{partition}:{offset}"


def split_position(pos: str) -> tuple[str, int]:
    """`topic:partition:offset` -> (`topic:partition`, offset)."""
    source, _, offset = pos.rpartition(":")
    if not source or not offset.lstrip("-").isdigit():
        raise ValueError(f"not a source position: {pos!r}")
    return source, int(offset)


@dataclass
class Durations:
    count: int = 0
    buckets: dict[str, int] = field(default_factory=dict)  # snapshot histogram
    sketch: dict[int, int] = field(default_factory=dict)  # log bucket index -> count
    samples: list[float] | None = field(default_factory=list)  # sorted; None above EXACT_LIMIT

    def add(self, seconds: float) -> None:
        seconds, bucket, index = _placed(seconds)
        self.count += 1
        self.buckets[bucket] = self.buckets.get(bucket, 0) + 1
        self.sketch[index] = self.sketch.get(index, 0) + 1
        if self.samples is not None:
            if self.count > EXACT_LIMIT:
                self.samples = None
            else:
                bisect.insort(self.samples, seconds)

    def percentile(self, q: float) -> float | None:
        """Nearest rank: the smallest value with at least `q` of the samples at or below it."""
        if self.count == 0:
            return None
        rank = max(1, math.ceil(q * self.count))
        if self.samples is not None:
            return self.samples[rank - 1]
        seen = 0
        for index in sorted(self.sketch):
            seen += self.sketch[index]
            if seen >= rank:
                return sketch_value(index)
        return sketch_value(max(self.sketch))  # pragma: no cover (counts agree)

    def copy(self) -> Durations:
        return Durations(self.count, dict(self.buckets), dict(self.sketch),
                         None if self.samples is None else list(self.samples))


@lru_cache(maxsize=1024)
def _placed(seconds: float) -> tuple[float, str, int]:
    """A duration as kept (ms precision, not negative), its histogram bucket and its sketch index.
    Cached: one effect's durations are added to each of its six or so dimensions in a row."""
    seconds = max(0.0, round(float(seconds), 3))
    return seconds, bucket_key(seconds), sketch_index(seconds)


def bucket_key(seconds: float) -> str:
    index = bisect.bisect_left(BUCKET_BOUNDS, seconds)
    return "inf" if index == len(BUCKET_BOUNDS) else str(BUCKET_BOUNDS[index])


def sketch_index(seconds: float) -> int:
    if seconds <= 1.0:
        return 0
    return math.ceil(math.log(seconds) / _LOG_GAMMA)


def sketch_value(index: int) -> float:
    """The representative of a sketch bucket (within 1% of every value in it)."""
    if index <= 0:
        return 1.0
    return round(2 * SKETCH_GAMMA**index / (SKETCH_GAMMA + 1), 3)


@dataclass
class DimensionState:
    dimension: str
    counts: dict[str, int] = field(default_factory=dict)
    resolution: Durations = field(default_factory=Durations)
    reaction: Durations = field(default_factory=Durations)
    folded: dict[str, int] = field(default_factory=dict)  # `topic:partition` -> highest offset
    events_counted: int = 0
    updated_at: int | None = None  # epoch ms: the latest event time folded in

    def copy(self) -> DimensionState:
        return DimensionState(self.dimension, dict(self.counts), self.resolution.copy(),
                              self.reaction.copy(), dict(self.folded), self.events_counted,
                              self.updated_at)


def is_folded(state: DimensionState | None, pos: str) -> bool:
    if state is None:
        return False
    source, offset = split_position(pos)
    return offset <= state.folded.get(source, -1)


def _apply(state: DimensionState, effect: Effect, pos: str) -> bool:
    source, offset = split_position(pos)
    return fold_at(state, effect, source, offset)


def fold_at(state: DimensionState, effect: Effect, source: str, offset: int) -> bool:
    """Folds one effect into `state` in place, its position given split (`topic:partition`,
    offset); False when that position was already folded. (The batch refold folds into states of
    its own, and knows each message's position split: no copy, no parsing per dimension.)"""
    if offset <= state.folded.get(source, -1):
        return False
    state.folded[source] = offset
    counts = state.counts
    for key, value in effect.counts.items():
        counts[key] = counts.get(key, 0) + value
    for seconds in effect.resolution:
        state.resolution.add(seconds)
    for seconds in effect.reaction:
        state.reaction.add(seconds)
    state.events_counted += effect.events
    state.updated_at = effect.at if state.updated_at is None else max(state.updated_at, effect.at)
    return True


def fold_many(state: DimensionState | None, dimension: str,
              items: Iterable[tuple[Effect, str]]) -> tuple[DimensionState, int]:
    """Folds (effect, source position) pairs in order; returns the new state (the input is left
    untouched) and how many were folded (the rest were already folded)."""
    state = DimensionState(dimension) if state is None else state.copy()
    folded = sum(_apply(state, effect, pos) for effect, pos in items)
    return state, folded


def fold(state: DimensionState | None, dimension: str, effect: Effect, pos: str) -> DimensionState:
    return fold_many(state, dimension, [(effect, pos)])[0]


def merged_durations(a: Durations, b: Durations) -> Durations:
    count = a.count + b.count
    samples = None
    if count <= EXACT_LIMIT and a.samples is not None and b.samples is not None:
        samples = sorted(a.samples + b.samples)
    return Durations(count, _summed(a.buckets, b.buckets), _summed(a.sketch, b.sketch), samples)


def merged(a: DimensionState, b: DimensionState) -> DimensionState:
    """One dimension folded from two disjoint sets of source partitions, as one fold of both: every
    figure is a sum, a maximum, or the sorted samples (`Durations.add` is order-free), so a refold
    split by partition and merged gives the snapshot of a refold in one piece."""
    folded = dict(a.folded)
    for source, offset in b.folded.items():
        folded[source] = max(offset, folded.get(source, -1))
    ats = [at for at in (a.updated_at, b.updated_at) if at is not None]
    return DimensionState(a.dimension, _summed(a.counts, b.counts), merged_durations(a.resolution, b.resolution),
                          merged_durations(a.reaction, b.reaction), folded, a.events_counted + b.events_counted,
                          max(ats) if ats else None)


def _summed(a: dict, b: dict) -> dict:
    out = dict(a)
    for key, value in b.items():
        out[key] = out.get(key, 0) + value
    return out
