"""The fan-out's batch: one message per dimension per batch, each effect with its own position, so
that a fold skips exactly what it has folded whatever the batch boundaries were."""

from __future__ import annotations

import pytest

from schemas.codec import decode, encode
from schemas.records import StatsEffects
from streams.stats.batch import EffectBatch, items_of
from streams.stats.fold import Effect, fold_many


def _effect(score: int, at: int = 1_700_000_000_000) -> Effect:
    return Effect(at=at, counts={"ratings": 1, f"score:{score}": 1, "ratings_sum": score})


def test_a_batch_sends_one_message_per_dimension_with_every_effect_and_position_in_order() -> None:
    batch = EffectBatch()
    batch.add("rating.recorded:2:10", {"all": _effect(5), "company:147": _effect(5)})
    batch.add("rating.recorded:2:11", {"all": _effect(1)})
    messages = {m.dimension: m for m in batch.drain()}
    assert set(messages) == {"all", "company:147"}
    assert messages["all"].positions == ["rating.recorded:2:10", "rating.recorded:2:11"]
    assert [e.counts for e, _ in items_of(decode(encode(messages["all"])))] == [_effect(5).counts, _effect(1).counts]
    assert batch.drain() == [] and batch.events == 0


def test_a_redelivered_batch_cut_elsewhere_folds_each_effect_once() -> None:
    first, again = EffectBatch(), EffectBatch()
    for offset in range(10, 15):
        first.add(f"rating.recorded:0:{offset}", {"all": _effect(4)})
    for offset in range(12, 20):  # after a restart the batch starts mid-way and runs further
        again.add(f"rating.recorded:0:{offset}", {"all": _effect(4)})
    state, folded = fold_many(None, "all", items_of(first.drain()[0]))
    state, refolded = fold_many(state, "all", items_of(again.drain()[0]))
    assert (folded, refolded) == (5, 5)
    assert state.counts["ratings"] == 10


def test_a_malformed_message_is_refused() -> None:
    with pytest.raises(ValueError, match="2 positions for 1 effects"):
        items_of(StatsEffects(dimension="all", positions=["a:0:1", "a:0:2"], effects=[_effect(1).dumps().decode()]))
    with pytest.raises(ValueError, match="not a source position"):
        items_of(StatsEffects(dimension="all", positions=["nowhere"], effects=[_effect(1).dumps().decode()]))
