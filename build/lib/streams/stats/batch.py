"""The fan-out's batch: effects gathered per dimension over many decision events, sent as one
`StatsEffects` message per dimension, so that the dimensions' folds work per batch rather than
per event (a decision event counts in about six dimensions).

Each effect keeps its own source position: a batch boundary need not fall where it fell before a
restart, and the fold skips, effect by effect, what it has already folded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.records import StatsEffects
from streams.stats.fold import Effect, split_position


@dataclass
class EffectBatch:
    by_dimension: dict[str, StatsEffects] = field(default_factory=dict)
    events: int = 0

    def add(self, pos: str, effects: dict[str, Effect]) -> None:
        self.events += 1
        for dim, effect in effects.items():
            batch = self.by_dimension.get(dim)
            if batch is None:
                batch = self.by_dimension[dim] = StatsEffects(dimension=dim)
            batch.positions.append(pos)
            batch.effects.append(effect.dumps().decode())

    def drain(self) -> list[StatsEffects]:
        out = list(self.by_dimension.values())
        self.by_dimension, self.events = {}, 0
        return out


def items_of(message: StatsEffects) -> list[tuple[Effect, str]]:
    """The (effect, position) pairs of a message, checked: a malformed one raises ValueError."""
    if len(message.positions) != len(message.effects):
        raise ValueError(f"{len(message.positions)} positions for {len(message.effects)} effects")
    items = []
    for pos, effect in zip(message.positions, message.effects, strict=True):
        split_position(pos)
        items.append((Effect.loads(effect.encode()), pos))
    return items
