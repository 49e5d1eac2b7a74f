"""The fold of one dimension: counters, percentiles, histograms, dedup by source position."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.state_codec import StateCodec
from streams.stats.fold import (
    EXACT_LIMIT,
    DimensionState,
    Durations,
    Effect,
    bucket_key,
    fold,
    fold_many,
)
from streams.stats.snapshot import snapshot

CODEC = StateCodec(DimensionState)


def rating(score: int, at: int = 1_000, type_: str | None = None) -> Effect:
    counts = {"ratings": 1, "ratings_sum": score, f"score.{score}": 1}
    if type_ and score <= 2:
        counts[f"low_types.{type_}"] = 1
    return Effect(at=at, counts=counts)


@pytest.mark.parametrize(("samples", "p50", "p90"), [
    ([], None, None),
    ([60], 60, 60),
    ([1, 2, 3, 4], 2, 4),  # nearest rank: ceil(0.5*4)=2nd, ceil(0.9*4)=4th
    ([5, 1, 4, 2, 3], 3, 5),
    (list(range(1, 11)), 5, 9),
    ([3600] * 9 + [86400], 3600, 3600),
    ([3600] * 8 + [86400] * 2, 3600, 86400),
    ([0, 0, 0], 0, 0),
    ([-5, 10], 0, 10),  # a negative duration (clock skew) counts as 0
])
def test_percentiles_exact_while_small(samples, p50, p90):
    d = Durations()
    for s in samples:
        d.add(s)
    assert d.percentile(0.5) == p50
    assert d.percentile(0.9) == p90


def test_percentiles_from_the_sketch_within_one_percent():
    d = Durations()
    values = [float(v) for v in range(1, 5001)]  # far above EXACT_LIMIT
    for v in reversed(values):
        d.add(v * 7.3)
    assert d.samples is None and d.count == 5000
    assert d.percentile(0.5) == pytest.approx(2500 * 7.3, rel=0.01)
    assert d.percentile(0.9) == pytest.approx(4500 * 7.3, rel=0.01)
    assert sum(d.buckets.values()) == 5000


@pytest.mark.parametrize(("seconds", "bucket"), [
    (0, "60"), (60, "60"), (60.001, "300"), (3600, "3600"), (3601, "7200"), (86400, "86400"),
    (2592000, "2592000"), (2592001, "inf"),
])
def test_histogram_buckets(seconds, bucket):
    assert bucket_key(seconds) == bucket


def test_figures_of_a_dimension():
    items = [
        (rating(5, at=1_000), "rating.recorded:0:1"),
        (rating(1, at=3_000, type_="printer"), "rating.recorded:0:2"),
        (rating(2, at=2_000, type_="printer"), "rating.recorded:1:7"),
        (Effect(at=500, counts={"sent": 1}, resolution=(7200.0,)), "rating.requested:0:1"),
        (Effect(at=600, counts={"sent": 1}, resolution=(3600.0,)), "rating.requested:1:1"),
        (Effect(at=700, counts={"delivered": 1}), "notifier.outcomes:0:4"),
        (Effect(at=800, counts={"delivered": 1}), "notifier.outcomes:1:4"),
        (Effect(at=900, counts={"delivered": 1, "closed.deleted": 1}, events=2), "notifier.outcomes:1:5"),
        (Effect(at=100, counts={"types.printer": 1, "types.mail": 1}, reaction=(30.0,)), "issue.events:0:0"),
        (Effect(at=100, counts={"reasons.slow": 1, "portal.good": 1}), "rating.recorded:2:0"),
    ]
    state, folded = fold_many(None, "all", items)
    assert folded == len(items)
    snap = snapshot(state)
    assert (snap.ratings_count, snap.ratings_sum, snap.ratings_average) == (3, 8, pytest.approx(8 / 3, abs=1e-4))
    assert snap.score_counts == {"1": 1, "2": 1, "3": 0, "4": 0, "5": 1}
    assert (snap.requests_sent, snap.requests_delivered) == (2, 3)
    assert snap.response_rate == 1.0
    assert snap.requests_closed == {"deleted": 1}
    assert snap.resolution_time_count == 2 and snap.resolution_time_buckets == {"3600": 1, "7200": 1}
    assert (snap.resolution_time_p50_seconds, snap.resolution_time_p90_seconds) == (3600.0, 7200.0)
    assert snap.reaction_time_p50_seconds == 30.0
    assert snap.top_types == {"mail": 1, "printer": 1}
    assert snap.top_low_score_types == {"printer": 2}
    assert snap.top_reasons == {"slow": 1} and snap.portal_rate_counts == {"good": 1}
    assert snap.events_counted == 11
    assert snap.updated_at.timestamp() == 3.0  # the latest event time, not the wall clock


def test_redelivered_positions_are_not_counted_twice():
    first = [(rating(4), f"rating.recorded:0:{i}") for i in range(5)]
    state, folded = fold_many(None, "all", first)
    assert folded == 5
    # A restart re-sends offsets 2..4, then new ones 5..6; a second copy of everything follows.
    again = [(rating(4), f"rating.recorded:0:{i}") for i in (2, 3, 4, 5, 6)] + first
    state, folded = fold_many(state, "all", again)
    assert folded == 2
    assert state.counts["ratings"] == 7
    # The same offset in another source partition is another event.
    state = fold(state, "all", rating(4), "rating.recorded:1:0")
    assert state.counts["ratings"] == 8


def test_fold_leaves_its_input_alone():
    state = fold(None, "all", rating(3), "rating.recorded:0:0")
    before = CODEC.dumps(state)
    fold(state, "all", rating(5, at=99), "rating.recorded:0:1")
    assert CODEC.dumps(state) == before


def test_state_round_trips_as_json():
    state, _ = fold_many(None, "all", [
        (Effect(at=i, counts={"ratings": 1}, resolution=(float(i),)), f"rating.requested:0:{i}")
        for i in range(EXACT_LIMIT + 3)
    ])
    assert CODEC.loads(CODEC.dumps(state)) == state
    assert snapshot(CODEC.loads(CODEC.dumps(state))) == snapshot(state)


streams = st.lists(
    st.tuples(st.sampled_from(["rating.recorded:0", "rating.recorded:1", "notifier.outcomes:0"]),
              st.integers(1, 5), st.integers(0, 10**7)),
    max_size=30,
)


@given(streams, st.randoms(use_true_random=False), st.integers(0, 30))
@settings(max_examples=200, deadline=None)
def test_any_interleaving_of_partitions_and_any_redelivery_gives_one_state(events, rnd, dup_from):
    """Per source partition the order is kept (Kafka's guarantee); how partitions interleave and
    which suffix of a partition is delivered again do not change the figures."""
    per_source: dict[str, list[tuple[Effect, str]]] = {}
    for source, score, at in events:
        queue = per_source.setdefault(source, [])
        queue.append((Effect(at=at, counts={"ratings": 1, f"score.{score}": 1},
                             resolution=(float(at % 5000),)), f"{source}:{len(queue)}"))
    reference, _ = fold_many(None, "all", [item for q in per_source.values() for item in q])

    # Interleave randomly, redelivering each partition's tail once (a restart past its commit).
    queues = {s: q + q[min(dup_from, len(q)):] for s, q in per_source.items()}
    mixed = []
    while any(queues.values()):
        source = rnd.choice([s for s, q in queues.items() if q])
        mixed.append(queues[source].pop(0))
    state, _ = fold_many(None, "all", mixed)
    assert CODEC.dumps(state) != b"" and snapshot(state) == snapshot(reference)
    assert state.counts == reference.counts
    assert state.events_counted == len(events)
    assert math.isclose(state.updated_at or 0, max((at for *_, at in events), default=0)) or not events
