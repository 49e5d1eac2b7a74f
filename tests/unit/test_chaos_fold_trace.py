"""The chaos drill's post-mortem of a statistics difference: which source positions the live fold
counted differently from the refold, and why. It only speaks when CI fails, so it is tested here."""

from __future__ import annotations

from streams.stats.batch import EffectBatch
from streams.stats.fold import Effect
from tests.chaos.checks import fold_difference, trace_fold


def _batch(*positions: str):
    batch = EffectBatch()
    for pos in positions:
        batch.add(pos, {"all": Effect(at=1_700_000_000_000, counts={"ratings": 1})})
    return batch.drain()[0]


def test_a_batch_sent_after_the_fold_passed_it_and_one_never_sent_are_told_apart() -> None:
    rebuilt = trace_fold([(0, _batch("rating.recorded:0:1", "rating.recorded:0:2", "rating.recorded:0:3",
                                     "rating.recorded:1:7"))])
    # live: 0:3 overtook 0:1-0:2, which came after and were skipped; 1:7 never came
    live = trace_fold([(0, _batch("rating.recorded:0:3")), (1, _batch("rating.recorded:0:1", "rating.recorded:0:2"))])
    assert fold_difference(live, rebuilt) == [
        "rating.recorded:0:1 sent live at 1 when the fold was at 3",
        "rating.recorded:0:2 sent live at 1 when the fold was at 3",
        "rating.recorded:1:7 never sent live",
    ]


def test_a_redelivery_is_no_difference_and_other_dimensions_are_ignored() -> None:
    rebuilt = trace_fold([(0, _batch("issue.events:2:5", "issue.events:2:6"))])
    live = trace_fold([(0, _batch("issue.events:2:5")), (1, _batch("issue.events:2:5", "issue.events:2:6"))])
    other = EffectBatch()
    other.add("issue.events:2:9", {"company:1": Effect(at=1_700_000_000_000, counts={"ratings": 1})})
    live_with_other = trace_fold([(0, _batch("issue.events:2:5", "issue.events:2:6")), (1, other.drain()[0])])
    assert fold_difference(live, rebuilt) == []
    assert fold_difference(live_with_other, rebuilt) == []
