"""The statistics' fan-out inside the issue agent: the decisions it just made, and the notifier's
outcomes it reads, folded into their issue's statistics facts in the same step (no second
consume of the decision topics it wrote), their effects batched per dimension and sent to the
fold (`streams.agents.stats`).

The facts are those a fold of the decision topics establishes (`streams.stats.facts`): the
figures equal a refold's. An input event's effects carry its own position (`topic:partition:
offset` of the issue agent's input), so a redelivered event's effects are skipped by the fold as
already folded; the event is acked only once the batch holding its effects was stored (it is
`held` by the output barrier, `streams.outputs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.codec import encode
from schemas.keys import dimension_key
from schemas.records import Record
from streams.agents.stats import ISSUES_CODEC, ISSUES_TABLE, by_dimension_topic
from streams.outputs import Waiting
from streams.stats.batch import EffectBatch
from streams.stats.facts import contribute

if TYPE_CHECKING:
    from streams.app import StreamsApp


class InlineStats:
    def __init__(self, app: StreamsApp):
        self._app = app
        self._table = app.table(ISSUES_TABLE, through_outputs=True)
        self._tz = app.settings.stats_timezone
        self._topic = app.topic.name_of(by_dimension_topic(app))
        self._batch = EffectBatch()
        self._held: list[Waiting] = []
        self.max_events = app.config.stats_batching.max_events

    def contribute(self, key: bytes, records: list[Record], pos: str) -> bool:
        """Folds the records into the issue's facts (in the current event's context: the table
        write goes to its partition); True when they had effects, which wait in the batch."""
        before = ISSUES_CODEC.loads(self._table.get(key))
        state, effects = before, {}
        for index, record in enumerate(records):
            state, effects = contribute(state, record, pos, self._tz, src=f"{pos}#{index}")
        if state is not None and state != before:
            self._table[key] = ISSUES_CODEC.dumps(state)
        if effects:
            self._batch.add(pos, effects)
        return bool(effects)

    def hold(self, waiting: Waiting) -> None:
        self._held.append(waiting)
        if self._batch.events >= self.max_events:
            self.flush()

    def flush(self) -> None:
        if not self._held:
            return
        held, self._held = self._held, []
        outputs = [(self._topic, dimension_key(m.dimension), encode(m)) for m in self._batch.drain()]
        self._app.outputs.release(held, outputs)
