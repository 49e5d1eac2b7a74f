"""A refold in one process (`okrate replay --rebuild-stats`, `bench replay`): decision records in,
one `DimensionState` per dimension out, through the live worker's own rules (`facts.contribute`
per issue, `fold.fold_at` per dimension: the step of the live `fold_many`) but without the
repartition topic between them.

Memory stays flat in the history's length. The four decision topics are keyed by issue id and
co-partitioned, so all of an issue's decisions are in the same partition number of each topic:
the caller feeds one partition number at a time (its four topics' partitions, interleaved in any
order: which message establishes a fact does not depend on it, see `facts`) and calls
`end_partition()`, which forgets that partition's issues. Only the dimension states stay, a few
per company, assignee, group, type, day and week.

Each event's effects are folded as they come, into dimension states this refold owns (no copy
per batch, the position split once per message rather than once per dimension). Per source
partition the positions arrive in offset order, so the fold's dedup by position counts each
message once, as live; the live fold folds the same effects one `StatsEffects` batch at a time,
which gives the same states (each effect is folded on its own either way).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.records import Record, StatsSnapshot
from streams.stats.facts import IssueStats, contribute
from streams.stats.fold import DimensionState, fold_at, merged, split_position
from streams.stats.snapshot import snapshot


@dataclass
class Refold:
    tz: str
    dimensions: dict[str, DimensionState] = field(default_factory=dict)
    events: int = 0  # source events given to `add`, `skip` or `ignore`
    failed: int = 0  # events the rules raised on (the live worker dead-letters them: no effect)
    skipped: int = 0  # events not understood (not decodable, not expected on their topic)
    ignored: int = 0  # events of a type the rules state no fact from (`facts.FACT_SOURCES`), not decoded
    trace: str | None = None  # a dimension whose folded positions are kept, in order (a post-mortem)
    traced: list[str] = field(default_factory=list)
    _issues: dict[bytes, IssueStats] = field(default_factory=dict)

    def add(self, key: bytes | None, record: Record, pos: str) -> None:
        """One decision record of the current partition number, read at source position `pos`
        (`topic:partition:offset`, topic without prefix). A record without a key is skipped, as
        the live fan-out skips it."""
        source, offset = split_position(pos)
        self.add_at(key, record, pos, source, offset)

    def add_at(self, key: bytes | None, record: Record, pos: str, source: str, offset: int) -> None:
        """`add`, with the position also given split (`source` = `topic:partition`)."""
        self.events += 1
        if key is None:
            return
        try:
            state, effects = contribute(self._issues.get(key), record, pos, self.tz)
        except Exception:  # the live fan-out dead-letters the event: its facts are not kept
            self.failed += 1
            return
        self._issues[key] = state
        dims = self.dimensions
        for dim, effect in effects.items():
            dim_state = dims.get(dim)
            if dim_state is None:
                dim_state = dims[dim] = DimensionState(dim)
            fold_at(dim_state, effect, source, offset)
            if dim == self.trace:
                self.traced.append(pos)

    def skip(self) -> None:
        """An event that could not be read: the live fan-out dead-letters it, no effect."""
        self.events += 1
        self.skipped += 1

    def ignore(self) -> None:
        """An event of a type no fact comes from (known by its schema fingerprint, not decoded):
        no effect, as `contribute` gives none for it."""
        self.events += 1
        self.ignored += 1

    def end_partition(self) -> None:
        """The current partition number is read to its end: its issues' facts are dropped."""
        self._issues = {}

    def merge(self, other: Refold) -> None:
        """Takes in a refold of other partition numbers (done in another process): the result is
        that of one refold of both (`fold.merged`). Merge in partition order for the trace."""
        for dim, state in other.dimensions.items():
            mine = self.dimensions.get(dim)
            self.dimensions[dim] = state.copy() if mine is None else merged(mine, state)
        self.events += other.events
        self.failed += other.failed
        self.skipped += other.skipped
        self.ignored += other.ignored
        self.traced.extend(other.traced)

    @property
    def issues_held(self) -> int:
        return len(self._issues)

    def snapshots(self) -> dict[str, StatsSnapshot]:
        return {dim: snapshot(state) for dim, state in self.dimensions.items()}
