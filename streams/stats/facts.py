"""The fan-out's rule (keyed by issue id): which facts a decision event establishes, each once,
and which effects that makes in which dimensions.

Why facts, and why here. The decision topics carry legitimate repeats: a request is emitted again
with the same id when a late link re-addresses it (or after a crash), the notifier may report a
send twice (`possible_duplicate`, retries), a reminder may be emitted twice. What counts is the
*fact* (request R was delivered), not the message. Facts are keyed per issue (`delivered:<R>`,
`rated:<R>`, `reason:<event id>`...), so the memory needed to count each once lives with the issue
(a handful of facts per issue, in the issue's partition), never in an ever-growing set per
dimension. Outcomes, reminders, expiries and closings do not say which company, assignee or type
their request was filed under: the issue's state remembers it from the request.

Each fact records the source position (`pos`) of the message whose processing emitted it. When
that very message is processed again (a restart before the offset was committed, while the table
already holds the fact), its facts are emitted again, identically: the fold skips them by position
(`streams.stats.fold`), and nothing is lost between the table write and the sends. A fact about a
request this issue's state has not seen yet (inputs from two topics have no order between them)
waits (`pos` None) and is emitted with the request's own message.

Every fact comes from one topic only (a request from `rating.requested`, a delivery from
`notifier.outcomes`...), so which message establishes it does not depend on how topics
interleave: refolds are identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from schemas.records import (
    IssueEvent,
    PortalRatingRecorded,
    RatingClosed,
    RatingExpired,
    RatingRecorded,
    RatingReminder,
    RatingRequested,
    ReasonRecorded,
    Record,
    SideEffectOutcome,
)
from streams.stats.dimensions import Attrs, dimensions
from streams.stats.fold import Effect

SEND_REQUEST = "telegram.send_request"
LOW_SCORE = 2  # "the most frequent problems among ratings of 2 or less"
FREE_TEXT_REASON = "free_text"  # a reason given as text, without a reason code
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(at: datetime) -> int:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (at - _EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)  # slots: a refold holds a partition's facts in memory
class Fact:
    kind: str  # type, reaction, request, sent, undeliverable, delivered, reminded, expired,
    #            closed, rated, reason, portal
    at: int  # event time, epoch ms
    src: str  # position of the event it came from
    pos: str | None = None  # position of the message that emitted it; None: waits for its request
    request: str | None = None  # request-scoped facts: filed under the request's attrs
    value: int | float | str | None = None
    attrs: list[str | None] | None = None  # company, assignee, group, type; None: the request's


@dataclass(frozen=True)
class IssueStats:
    """What the statistics know about one issue (table `stats-issues`, keyed by issue id)."""

    facts: dict[str, Fact] = field(default_factory=dict)


def _attrs(record) -> list[str | None]:
    return _shared_attrs((record.company_id, record.assignee_employee_id, record.assignee_group_id,
                          record.type_code))


@lru_cache(maxsize=65536)
def _shared_attrs(values: tuple[str | None, ...]) -> list[str | None]:
    """One list per distinct filing, shared by the facts filed so (never mutated): a refold holds
    a partition's facts in memory, and few issues are filed differently."""
    return Attrs(*values).as_list()


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def event_time(record: Record) -> datetime | None:
    """The event time of a decision record."""
    for name in ("event_time", "addressed_at", "requested_at", "reminded_at", "expired_at",
                 "closed_at", "pressed_at", "given_at", "rated_at", "completed_at", "intended_at"):
        value = getattr(record, name, None)
        if value is not None:
            return value
    return None


# The record types `candidates` states facts from; of any other type a record has no effect
# (the batch refold reads such records' fingerprints and does not decode them).
FACT_SOURCES: tuple[type[Record], ...] = (
    IssueEvent, RatingRequested, RatingReminder, RatingExpired, RatingClosed, SideEffectOutcome,
    RatingRecorded, ReasonRecorded, PortalRatingRecorded,
)


def candidates(record: Record, src: str) -> list[tuple[str, Fact]]:
    """The facts a decision record states (whether or not they are already known)."""
    out: list[tuple[str, Fact]] = []
    if isinstance(record, IssueEvent):
        at = epoch_ms(record.event_time)
        attrs = _attrs(record)
        if record.type_code:
            out.append(("type", Fact("type", at, src, value=record.type_code, attrs=attrs)))
        reaction = _seconds(record.created_at, record.reacted_at)
        if reaction is not None:
            out.append(("reaction", Fact("reaction", at, src, value=reaction, attrs=attrs)))
    elif isinstance(record, RatingRequested):
        rid = record.request_id
        out.append((f"request:{rid}", Fact("request", epoch_ms(record.requested_at), src, request=rid,
                                           value=_seconds(record.issue_created_at, record.requested_at),
                                           attrs=_attrs(record))))
        at = epoch_ms(record.addressed_at or record.requested_at)
        if record.deliverable:
            out.append((f"sent:{rid}", Fact("sent", at, src, request=rid)))
        else:
            out.append((f"unlinked:{rid}", Fact("undeliverable", at, src, request=rid)))
    elif isinstance(record, RatingReminder):
        out.append((f"reminded:{record.event_id}",
                    Fact("reminded", epoch_ms(record.reminded_at), src, request=record.request_id)))
    elif isinstance(record, RatingExpired):
        out.append((f"expired:{record.request_id}",
                    Fact("expired", epoch_ms(record.expired_at), src, request=record.request_id)))
    elif isinstance(record, RatingClosed):
        out.append((f"closed:{record.request_id}",
                    Fact("closed", epoch_ms(record.closed_at), src, request=record.request_id,
                         value=record.reason)))
    elif isinstance(record, SideEffectOutcome):
        if record.kind == SEND_REQUEST and record.request_id:
            at = epoch_ms(record.completed_at)
            if record.status == "ok":
                out.append((f"delivered:{record.request_id}",
                            Fact("delivered", at, src, request=record.request_id)))
            elif record.status == "undeliverable":  # Telegram refused: blocked, chat gone
                out.append((f"refused:{record.request_id}",
                            Fact("undeliverable", at, src, request=record.request_id)))
    elif isinstance(record, RatingRecorded):
        out.append((f"rated:{record.request_id}",
                    Fact("rated", epoch_ms(record.pressed_at), src, request=record.request_id,
                         value=record.score, attrs=_attrs(record))))
    elif isinstance(record, ReasonRecorded):
        out.append((f"reason:{record.event_id}",
                    Fact("reason", epoch_ms(record.given_at), src, request=record.request_id,
                         value=record.reason_code or FREE_TEXT_REASON, attrs=_attrs(record))))
    elif isinstance(record, PortalRatingRecorded):
        out.append((f"portal:{record.event_id}",
                    Fact("portal", epoch_ms(record.rated_at), src, request=record.request_id,
                         value=record.rate, attrs=_attrs(record))))
    return out


def _effect(fact: Fact, attrs: Attrs) -> Effect | None:
    kind, value = fact.kind, fact.value
    counts: dict[str, int] = {}
    resolution: tuple[float, ...] = ()
    reaction: tuple[float, ...] = ()
    if kind == "type":
        counts[f"types.{value}"] = 1
    elif kind == "reaction":
        reaction = (float(value),)  # type: ignore[arg-type]
    elif kind == "request":
        if value is None:
            return None
        resolution = (float(value),)
    elif kind in ("sent", "undeliverable", "delivered", "reminded", "expired"):
        counts[kind] = 1
    elif kind == "closed":
        counts[f"closed.{value}"] = 1
    elif kind == "rated":
        score = int(value)  # type: ignore[arg-type]
        counts.update({"ratings": 1, "ratings_sum": score, f"score.{score}": 1})
        if score <= LOW_SCORE and attrs.type:
            counts[f"low_types.{attrs.type}"] = 1
    elif kind == "reason":
        counts[f"reasons.{value}"] = 1
    elif kind == "portal":
        counts[f"portal.{value}"] = 1
    else:
        return None
    return Effect(at=fact.at, counts=counts, resolution=resolution, reaction=reaction)


def _emitted(fact: Fact, pos: str) -> Fact:
    """`replace(fact, pos=pos)`, without `dataclasses.replace`'s cost (it is on every event's path)."""
    return Fact(fact.kind, fact.at, fact.src, pos, fact.request, fact.value, fact.attrs)


@lru_cache(maxsize=4096)
def _attrs_of(values: tuple[str | None, ...]) -> Attrs:
    return Attrs.from_list(values)


def contribute(state: IssueStats | None, record: Record, pos: str,
               tz: str, src: str | None = None) -> tuple[IssueStats, dict[str, Effect]]:
    """Folds a decision record (read at source position `pos`) into its issue's statistics state;
    returns the new state and the effects to send, one per dimension.

    `src` tells apart several records contributed under one `pos`: the issue agent fans out the
    decisions of one input event in-process, all under that input's position (the fold's dedup),
    each with a `src` of its own (the effect's event count), so that the figures are those of a
    fold of the decision topics, where each decision has a position of its own. The effects
    returned are then those of every record contributed under `pos` so far."""
    facts = dict(state.facts) if state is not None else {}
    added_requests: list[str] = []
    for key, fact in candidates(record, src or pos):
        if key in facts:
            continue
        if fact.kind == "request":
            added_requests.append(fact.request or "")
            facts[key] = _emitted(fact, pos)
        elif fact.attrs is None and f"request:{fact.request}" not in facts:
            facts[key] = fact  # waits for its request
        else:
            facts[key] = _emitted(fact, pos)
    for rid in added_requests:  # release what waited for these requests
        for key, fact in facts.items():
            if fact.pos is None and fact.request == rid:
                facts[key] = _emitted(fact, pos)
    new_state = IssueStats(facts) if state is None or facts != state.facts else state
    return new_state, effects_of(new_state, pos, tz)


def effects_of(state: IssueStats, pos: str, tz: str) -> dict[str, Effect]:
    """The effects of the facts emitted by the message at `pos`, merged per dimension."""
    emitted: list[tuple[Effect, str, list[str]]] = []
    for fact in state.facts.values():
        if fact.pos != pos:
            continue
        raw_attrs = fact.attrs
        if raw_attrs is None:
            request = state.facts.get(f"request:{fact.request}")
            raw_attrs = request.attrs if request is not None else None
        attrs = _attrs_of(tuple(raw_attrs or ()))
        effect = _effect(fact, attrs)
        if effect is not None:
            emitted.append((effect, fact.src, dimensions(attrs, fact.at, tz)))
    # An effect is immutable: one fact's effect is shared by its dimensions rather than copied.
    if len(emitted) == 1:
        effect, _, dims = emitted[0]
        return dict.fromkeys(dims, effect)
    by_dim: dict[str, list[int]] = {}  # which facts' effects count in a dimension, in order
    for index, (_, _, dims) in enumerate(emitted):
        for dim in dims:
            by_dim.setdefault(dim, []).append(index)
    merged: dict[tuple[int, ...], Effect] = {}  # dimensions the same facts count in share one
    out: dict[str, Effect] = {}
    for dim, indexes in by_dim.items():
        key = tuple(indexes)
        effect = merged.get(key)
        if effect is None:
            effect, src, _ = emitted[indexes[0]]
            srcs = {src}
            for index in indexes[1:]:
                effect = effect.merge(emitted[index][0])
                srcs.add(emitted[index][1])
            if effect.events != len(srcs):  # facts of one source event count it once
                effect = Effect(effect.at, len(srcs), effect.counts, effect.resolution, effect.reaction)
            merged[key] = effect
        out[dim] = effect
    return out
