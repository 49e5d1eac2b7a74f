"""The fan-out's rule: facts counted once per issue, whatever repeats the decision topics carry,
in the dimensions of the request they belong to; and end to end through the fold, the same
figures for any interleaving of the topics and any redelivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.records import (
    IssueEvent,
    PortalRatingRecorded,
    RatingClosed,
    RatingExpired,
    RatingRecorded,
    RatingReminder,
    RatingRequested,
    ReasonRecorded,
    SideEffectOutcome,
)
from streams.state_codec import StateCodec
from streams.stats.facts import IssueStats, contribute
from streams.stats.fold import fold_many
from streams.stats.snapshot import snapshot

TZ = "Europe/Moscow"
T0 = datetime(2026, 11, 29, 21, 30, tzinfo=UTC)  # 2026-11-30 00:30 in Moscow, ISO week 49
CODEC = StateCodec(IssueStats)
ATTRS = {"company_id": "147", "assignee_employee_id": "9", "assignee_group_id": "3", "type_code": "printer"}
REQUEST_DIMS = {"all", "company:147", "assignee:9", "group:3", "type:printer", "day:2026-11-30", "week:2026-W49"}


def requested(rid="r1", deliverable=True, at=T0, created=T0 - timedelta(hours=2), addressed_at=None, **kw):
    return RatingRequested(
        event_id=f"{rid}/{'addressed/5' if deliverable else 'undeliverable'}", request_id=rid,
        issue_id="1", cycle=1, requested_at=at, trigger_partition=0, trigger_offset=0,
        issue_created_at=created, deliverable=deliverable, recipient_user_id=5 if deliverable else None,
        addressed_at=addressed_at or at, **{**ATTRS, **kw})


def outcome(rid="r1", status="ok", at=T0 + timedelta(seconds=5), key=None):
    return SideEffectOutcome(idempotency_key=key or f"{rid}/send", kind="telegram.send_request",
                             status=status, issue_id="1", request_id=rid, completed_at=at)


def recorded(rid="r1", score=5, at=T0 + timedelta(minutes=3), **kw):
    return RatingRecorded(event_id=f"{rid}/recorded", request_id=rid, issue_id="1", score=score,
                          from_user_id=5, update_id=1, requested_at=T0, pressed_at=at, **{**ATTRS, **kw})


def issue_event(n=0, type_code="printer", reacted=None, at=T0 - timedelta(hours=1)):
    return IssueEvent(event_id=f"issue-event/0/{n}", kind="status_changed", dialect="seed", issue_id="1",
                      event_time=at, delivery_id=str(n), source_topic="okdesk.events", source_partition=0,
                      source_offset=n, created_at=T0 - timedelta(hours=2), reacted_at=reacted,
                      **{**ATTRS, "type_code": type_code})


def run(history):
    """(record, pos) in order -> (state, [effects by dimension, per message])."""
    state, out = None, []
    for record, pos in history:
        state, effects = contribute(state, record, pos, TZ)
        out.append(effects)
    return state, out


def total(effects_list, dimension="all"):
    counts: dict[str, int] = {}
    for effects in effects_list:
        for key, value in effects.get(dimension, None).counts.items() if dimension in effects else ():
            counts[key] = counts.get(key, 0) + value
    return counts


def test_a_request_counts_once_in_the_requests_dimensions():
    _, out = run([(requested(), "rating.requested:0:0")])
    assert set(out[0]) == REQUEST_DIMS
    assert out[0]["all"].counts == {"sent": 1}
    assert out[0]["all"].resolution == (7200.0,)
    assert out[0]["all"].events == 1
    # The same request emitted again (a restart of the issue agent): a repeat, counted once.
    _, out = run([(requested(), "rating.requested:0:0"), (requested(), "rating.requested:0:9")])
    assert out[1] == {}


def test_an_undeliverable_request_addressed_later():
    later = T0 + timedelta(days=1)
    _, out = run([(requested(deliverable=False), "rating.requested:0:0"),
                  (requested(deliverable=True, addressed_at=later), "rating.requested:0:1")])
    assert out[0]["all"].counts == {"undeliverable": 1}
    assert out[1]["all"].counts == {"sent": 1} and out[1]["all"].resolution == ()
    assert "day:2026-12-01" in out[1] and "day:2026-11-30" not in out[1]  # sent the next day


def test_outcomes_count_once_per_request_and_wait_for_their_request():
    history = [
        (outcome(status="failed"), "notifier.outcomes:0:0"),
        (outcome(), "notifier.outcomes:0:1"),  # before its request is known: waits
        (outcome(status="possible_duplicate"), "notifier.outcomes:0:2"),
        (outcome(key="r1/send#2"), "notifier.outcomes:0:3"),  # a second ok: the same fact
        (requested(), "rating.requested:0:0"),
        (outcome(rid="r2", status="undeliverable"), "notifier.outcomes:0:4"),
        (requested(rid="r2", type_code="mail"), "rating.requested:0:1"),
    ]
    _, out = run(history)
    assert out[:4] == [{}, {}, {}, {}]
    assert out[4]["all"].counts == {"sent": 1, "delivered": 1}
    assert out[4]["all"].events == 2  # the request and its outcome
    assert set(out[4]) == REQUEST_DIMS  # the outcome counts where its request is filed
    assert out[5] == {}
    assert out[6]["type:mail"].counts == {"sent": 1, "undeliverable": 1}


def test_the_life_of_a_request():
    history = [
        (requested(), "rating.requested:0:0"),
        (RatingReminder(event_id="r1/reminder/1", request_id="r1", issue_id="1", reminded_at=T0 + timedelta(days=1)),
         "rating.requested:0:1"),
        (RatingReminder(event_id="r1/reminder/1", request_id="r1", issue_id="1", reminded_at=T0 + timedelta(days=1)),
         "rating.requested:0:2"),
        (RatingExpired(event_id="r1/expired", request_id="r1", issue_id="1", expired_at=T0 + timedelta(days=7)),
         "rating.requested:0:3"),
        (requested(rid="r2"), "rating.requested:0:4"),
        (RatingClosed(event_id="r2/closed", request_id="r2", issue_id="1", reason="deleted", closed_at=T0),
         "rating.requested:0:5"),
        (RatingClosed(event_id="r2/closed", request_id="r2", issue_id="1", reason="deleted", closed_at=T0),
         "rating.requested:0:6"),
    ]
    _, out = run(history)
    assert total(out) == {"sent": 2, "reminded": 1, "expired": 1, "closed.deleted": 1}
    assert total(out, "company:147") == total(out)


def test_ratings_reasons_and_portal_ratings_in_their_own_dimensions():
    history = [
        (recorded(score=2), "rating.recorded:0:0"),
        (recorded(score=2), "rating.recorded:0:1"),  # emitted twice
        (ReasonRecorded(event_id="r1/reason/slow", request_id="r1", issue_id="1", score=2, reason_code="slow",
                        from_user_id=5, update_id=2, given_at=T0, **ATTRS), "rating.recorded:0:2"),
        (ReasonRecorded(event_id="r1/reason/text", request_id="r1", issue_id="1", score=2, text="meh",
                        from_user_id=5, update_id=3, given_at=T0, **ATTRS), "rating.recorded:0:3"),
        (PortalRatingRecorded(event_id="p1", request_id="r9", issue_id="1", rate="good", rated_at=T0,
                              company_id="200"), "rating.recorded:0:4"),
    ]
    _, out = run(history)
    assert total(out) == {"ratings": 1, "ratings_sum": 2, "score.2": 1, "low_types.printer": 1,
                          "reasons.slow": 1, "reasons.free_text": 1, "portal.good": 1}
    assert set(out[4]) == {"all", "company:200", "day:2026-11-30", "week:2026-W49"}


def test_issue_type_and_reaction_time_once_per_issue():
    reacted = T0 - timedelta(hours=1, minutes=30)
    _, out = run([(issue_event(0), "issue.events:0:0"),
                  (issue_event(1, reacted=reacted), "issue.events:0:1"),
                  (issue_event(2, type_code="mail", reacted=reacted + timedelta(minutes=5)), "issue.events:0:2")])
    assert out[0]["all"].counts == {"types.printer": 1}
    assert out[1]["all"].reaction == (1800.0,) and out[1]["all"].counts == {}
    assert out[2] == {}


def test_a_message_processed_again_emits_the_same_effects():
    """A restart after the table was written but before the offset was committed: the effects
    go out again, identical and with the same position (the fold skips them if they arrived)."""
    state, out = run([(outcome(), "notifier.outcomes:0:1"), (requested(), "rating.requested:0:0")])
    restored = CODEC.loads(CODEC.dumps(state))
    again, effects = contribute(restored, requested(), "rating.requested:0:0", TZ)
    assert effects == out[1] and again == restored
    again, effects = contribute(restored, outcome(), "notifier.outcomes:0:1", TZ)
    assert effects == {}  # released with its request's message, not its own


HISTORY = [
    ("issue.events", issue_event(0)),
    ("issue.events", issue_event(1, reacted=T0 - timedelta(minutes=100))),
    ("rating.requested", requested(deliverable=False)),
    ("rating.requested", requested(addressed_at=T0 + timedelta(hours=30))),
    ("rating.requested", requested(rid="r2", at=T0 + timedelta(days=2), type_code="mail")),
    ("rating.requested", RatingClosed(event_id="r1/closed", request_id="r1", issue_id="1", reason="reopened",
                                      closed_at=T0 + timedelta(days=2))),
    ("notifier.outcomes", outcome(at=T0 + timedelta(hours=30, seconds=1))),
    ("notifier.outcomes", outcome(at=T0 + timedelta(hours=30, seconds=2), key="again")),
    ("notifier.outcomes", outcome(rid="r2", at=T0 + timedelta(days=2, seconds=1))),
    ("rating.recorded", recorded(rid="r2", score=1, at=T0 + timedelta(days=3), type_code="mail")),
    ("rating.recorded", recorded(rid="r2", score=1, at=T0 + timedelta(days=3), type_code="mail")),
]


def refold(order: list[int], redeliver: dict[str, int]) -> dict[str, bytes]:
    """Runs HISTORY's messages (offsets per topic as listed) in the given cross-topic order, with
    each topic's tail from `redeliver[topic]` processed again; folds; snapshots per dimension."""
    offsets: dict[str, int] = {}
    positioned: dict[str, list] = {}
    for topic, record in HISTORY:
        n = offsets.get(topic, 0)
        offsets[topic] = n + 1
        positioned.setdefault(topic, []).append((record, f"{topic}:0:{n}"))
    queues = {t: q + q[redeliver.get(t, len(q)):] for t, q in positioned.items()}
    state, by_dim = None, {}
    for topic in order:
        if queues[topic]:
            record, pos = queues[topic].pop(0)
            state, effects = contribute(state, record, pos, TZ)
            for dim, effect in effects.items():
                by_dim.setdefault(dim, []).append((effect, pos))
    assert not any(queues.values())
    from schemas.codec import encode
    return {dim: encode(snapshot(fold_many(None, dim, items)[0])) for dim, items in by_dim.items()}


TOPICS = ["issue.events", "rating.requested", "notifier.outcomes", "rating.recorded"]


def _schedule(choices: list[int], redeliver: dict[str, int]) -> list[str]:
    sizes = {t: sum(1 for topic, _ in HISTORY if topic == t) for t in TOPICS}
    remaining = {t: sizes[t] + sizes[t] - min(redeliver.get(t, sizes[t]), sizes[t]) for t in TOPICS}
    order, i = [], 0
    while any(remaining.values()):
        live = [t for t in TOPICS if remaining[t]]
        t = live[choices[i % len(choices)] % len(live)] if choices else live[0]
        i += 1
        remaining[t] -= 1
        order.append(t)
    return order


def test_the_reference_figures():
    snaps = refold(_schedule([], {}), {})
    from schemas.codec import decode
    every = decode(snaps["all"])
    assert (every.requests_sent, every.requests_undeliverable, every.requests_delivered) == (2, 1, 2)
    assert (every.ratings_count, every.response_rate, every.requests_closed) == (1, 0.5, {"reopened": 1})
    assert every.top_types == {"printer": 1} and every.top_low_score_types == {"mail": 1}
    assert every.resolution_time_count == 2 and every.reaction_time_p50_seconds == 20 * 60
    assert every.events_counted == 9
    assert decode(snaps["type:mail"]).ratings_count == 1
    assert decode(snaps["day:2026-12-01"]).requests_sent == 1  # r1, addressed late


@given(st.lists(st.integers(0, 3), min_size=1, max_size=40),
       st.dictionaries(st.sampled_from(TOPICS), st.integers(0, 5)))
@settings(max_examples=150, deadline=None)
def test_any_interleaving_and_redelivery_gives_identical_snapshots(choices, redeliver):
    assert refold(_schedule(choices, redeliver), redeliver) == refold(_schedule([], {}), {})
