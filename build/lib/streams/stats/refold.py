"""A refold in one process (`okrate replay --rebuild-stats`, `bench replay`): decision records in,
one `DimensionState` per dimension out, through the live worker's own rules (`facts.contribute`
per issue, `fold.fold_many` per dimension) but without the repartition topic between them.

Memory stays flat in the history's length. The four decision topics are keyed by issue id and
co-partitioned, so all of an issue's decisions are in the same partition number of each topic:
the caller feeds one partition number at a time (its four topics' partitions, interleaved in any
order: which message establishes a fact does not depend on it, see `facts`) and calls
`end_partition()`, which folds what is pending and forgets that partition's issues. Only the
dimension states stay, a few per company, assignee, group, type, day and week.

Effects are gathered per dimension and folded `batch` source events at a time, as the live fold
folds one `StatsEffects` message at a time: per source partition the positions arrive in offset
order, so the fold's dedup by position counts each message once, as live.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.records import Record, StatsSnapshot
from streams.stats.facts import IssueStats, contribute
from streams.stats.fold import DimensionState, Effect, fold_many, merged
from streams.stats.snapshot import snapshot

BATCH_EVENTS = 10_000


@dataclass
class Refold:
    tz: str
    batch: int = BATCH_EVENTS
    dimensions: dict[str, DimensionState] = field(default_factory=dict)
    events: int = 0  # source events given to `add`
    failed: int = 0  # events the rules raised on (the live worker dead-letters them: no effect)
    skipped: int = 0  # events not understood (not decodable, not expected on their topic)
    trace: str | None = None  # a dimension whose folded positions are kept, in order (a post-mortem)
    traced: list[str] = field(default_factory=list)
    _issues: dict[bytes, IssueStats] = field(default_factory=dict)
    _pending: dict[str, list[tuple[Effect, str]]] = field(default_factory=dict)
    _pending_events: int = 0

    def add(self, key: bytes | None, record: Record, pos: str) -> None:
        """One decision record of the current partition number, read at source position `pos`
        (`topic:partition:offset`, topic without prefix). A record without a key is skipped, as
        the live fan-out skips it."""
        self.events += 1
        if key is None:
            return
        try:
            state, effects = contribute(self._issues.get(key), record, pos, self.tz)
        except Exception:  # the live fan-out dead-letters the event: its facts are not kept
            self.failed += 1
            return
        self._issues[key] = state
        pending = self._pending
        for dim, effect in effects.items():
            items = pending.get(dim)
            if items is None:
                pending[dim] = [(effect, pos)]
            else:
                items.append((effect, pos))
        self._pending_events += 1
        if self._pending_events >= self.batch:
            self.flush()

    def skip(self) -> None:
        """An event that could not be read: the live fan-out dead-letters it, no effect."""
        self.events += 1
        self.skipped += 1

    def flush(self) -> None:
        dims = self.dimensions
        for dim, items in self._pending.items():
            dims[dim] = fold_many(dims.get(dim), dim, items)[0]
            if dim == self.trace:
                self.traced.extend(pos for _, pos in items)
        self._pending, self._pending_events = {}, 0

    def end_partition(self) -> None:
        """The current partition number is read to its end: its issues' facts are dropped."""
        self.flush()
        self._issues = {}

    def merge(self, other: Refold) -> None:
        """Takes in a refold of other partition numbers (done in another process): the result is
        that of one refold of both (`fold.merged`). Merge in partition order for the trace."""
        self.flush()
        other.flush()
        for dim, state in other.dimensions.items():
            mine = self.dimensions.get(dim)
            self.dimensions[dim] = state if mine is None else merged(mine, state)
        self.events += other.events
        self.failed += other.failed
        self.skipped += other.skipped
        self.traced.extend(other.traced)

    @property
    def issues_held(self) -> int:
        return len(self._issues)

    def snapshots(self) -> dict[str, StatsSnapshot]:
        self.flush()
        return {dim: snapshot(state) for dim, state in self.dimensions.items()}
