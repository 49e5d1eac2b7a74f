"""What must hold after the chaos, each check a `Check` with its counts and the failures found:

1. every webhook the ingest answered 200 is in `okdesk.events` (and every press the Bot API
   stand-in accepted is in `telegram.updates`, and got a decision);
2. every deliverable request reached its chat, none twice beyond the `possible_duplicate`
   outcomes on `notifier.outcomes`; every resolution was asked about exactly once, those whose
   webhook the outage dropped too (found by the sweep);
3. every recorded rating has exactly one Okdesk comment (by its marker) and the issue its rate;
4. the live statistics equal a refold of the decision topics (`--rebuild-stats`);
5. the two live streams workers decided what one worker decides from the same raw topics.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from base.settings import Settings
from base.topic_reader import read_to_end
from bench.sandbox_client import request_id_of
from notifier.okdesk.client import rate_value
from okrate.rebuild_stats import differing, latest_snapshots, run_refold
from okrate.replay import reprocess
from schemas.codec import DecodeError, decode
from schemas.records import (
    OkdeskWebhookEnvelope,
    RatingClosed,
    RatingRecorded,
    RatingRejected,
    RatingRequested,
    Record,
    SideEffectOutcome,
    StatsEffects,
    TelegramUpdateEnvelope,
)
from schemas.topics import (
    NOTIFIER_OUTCOMES,
    OKDESK_EVENTS,
    RATING_RECORDED,
    RATING_REQUESTED,
    RATING_STATS,
    STATS_BY_DIMENSION,
    TELEGRAM_UPDATES,
)
from streams.stats.batch import items_of
from streams.stats.fold import fold, is_folded, split_position
from tests.chaos.load import Seeded

OKDESK_RATES = {1: "bad", 2: "bad", 3: "normal", 4: "good", 5: "good"}
SEND_REQUEST = "telegram.send_request"
POSSIBLE_DUPLICATE = "possible_duplicate"


@dataclass
class Check:
    name: str
    counts: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, what: str, examples: list[Any], limit: int = 8) -> None:
        if examples:
            self.failures.append(f"{what}: {len(examples)} (e.g. {', '.join(map(str, examples[:limit]))})")


def records(bootstrap: str, topic: str, kinds: tuple[type[Record], ...] | None = None) -> list[Record]:
    out = []
    for message in read_to_end(bootstrap, topic):
        try:
            out.append(decode(message.value, kinds) if kinds else decode(message.value))
        except DecodeError:
            continue
    return out


def _canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False)


def _issue_of(payload: Any) -> str:
    try:
        return str(payload["issue"]["id"])
    except (KeyError, TypeError):
        return "?"


# -- 1. nothing accepted is lost ----------------------------------------------------------------

def accepted_is_stored(bootstrap: str, settings: Settings, deliveries: list[dict[str, Any]],
                       press_updates: dict[int, str]) -> Check:
    check = Check("accepted → stored")
    accepted = Counter((_issue_of(d["payload"]), _canonical(d["payload"])) for d in deliveries if d["status"] == 200)
    stored: Counter = Counter()
    for env in records(bootstrap, OKDESK_EVENTS.full_name(settings), (OkdeskWebhookEnvelope,)):
        try:
            payload = json.loads(env.body)
        except ValueError:
            continue
        stored[(_issue_of(payload), _canonical(payload))] += 1
    missing = accepted - stored
    check.counts.update({
        "webhook deliveries": len(deliveries),
        "answered 200": sum(accepted.values()),
        "answered otherwise": sum(1 for d in deliveries if d["status"] != 200),
        "envelopes in okdesk.events": sum(stored.values()),
        "answered 200, not stored": sum(missing.values()),
    })
    check.fail("webhooks answered 200 but not in okdesk.events", [f"issue {i}" for (i, _), n in missing.items() for _ in range(n)])
    updates = {env.update_id for env in records(bootstrap, TELEGRAM_UPDATES.full_name(settings), (TelegramUpdateEnvelope,))}
    lost = sorted(u for u in press_updates if u not in updates)
    check.counts.update({"presses accepted by the Bot API stand-in": len(press_updates),
                         "updates in telegram.updates": len(updates), "presses not stored": len(lost)})
    check.fail("presses the stand-in accepted but not in telegram.updates",
               [f"update {u} ({press_updates[u]})" for u in lost])
    decided = {r.update_id for r in records(bootstrap, RATING_RECORDED.full_name(settings), (RatingRecorded, RatingRejected))
               if isinstance(r, RatingRecorded | RatingRejected)}
    undecided = sorted(u for u in press_updates if u in updates and u not in decided)
    check.counts["stored presses without a decision"] = len(undecided)
    check.fail("presses stored but never decided (neither recorded nor rejected)",
               [f"update {u} ({press_updates[u]})" for u in undecided])
    return check


# -- 2. every request delivered, none twice ------------------------------------------------------

def requests_delivered(bootstrap: str, settings: Settings, sends: list[dict[str, Any]]) -> Check:
    check = Check("requests delivered once")
    latest: dict[str, RatingRequested] = {}
    closed: dict[str, str] = {}
    for r in records(bootstrap, RATING_REQUESTED.full_name(settings)):
        if isinstance(r, RatingRequested):
            latest[r.request_id] = r
        elif isinstance(r, RatingClosed):
            closed.setdefault(r.request_id, r.reason)
    outcomes: Counter = Counter()
    duplicates: Counter = Counter()
    for r in records(bootstrap, NOTIFIER_OUTCOMES.full_name(settings), (SideEffectOutcome,)):
        if isinstance(r, SideEffectOutcome) and r.kind == SEND_REQUEST:
            outcomes[r.status] += 1
            if r.status == POSSIBLE_DUPLICATE and r.request_id:
                duplicates[r.request_id] += 1
    per_chat: Counter = Counter()
    for call in sends:
        request_id = request_id_of(call["params"])
        if call["status"] == 200 and request_id is not None:
            per_chat[(request_id, int(call["params"]["chat_id"]))] += 1
    deliverable = {rid: r for rid, r in latest.items() if r.deliverable and r.recipient_chat_id is not None}
    undelivered, twice, wrong_chat = [], [], []
    for rid, r in deliverable.items():
        n = per_chat.get((rid, r.recipient_chat_id), 0)
        if n == 0:
            undelivered.append(f"{rid}→{r.recipient_chat_id}" + (f" (closed: {closed[rid]})" if rid in closed else ""))
        elif n - 1 > duplicates[rid]:
            twice.append(f"{rid} ×{n} (possible_duplicate: {duplicates[rid]})")
    for (rid, chat), _n in per_chat.items():
        if rid not in deliverable or deliverable[rid].recipient_chat_id != chat:
            wrong_chat.append(f"{rid}→{chat}")
    extra = sum(n - 1 for n in per_chat.values() if n > 1)
    check.counts.update({
        "requests (distinct ids)": len(latest),
        "deliverable": len(deliverable),
        "undeliverable (no link)": len(latest) - len(deliverable),
        "closed before rated (reopened…)": len(closed),
        "request messages sent (200)": sum(per_chat.values()),
        "sent more than once": extra,
        "possible_duplicate outcomes": sum(duplicates.values()),
        "send_request outcomes": dict(outcomes),
        "deliverable, not delivered": len(undelivered),
    })
    check.fail("deliverable requests never sent to their chat", undelivered)
    check.fail("requests sent more often than counted as possible duplicates", twice)
    check.fail("request messages in a chat that is not the recipient's", wrong_chat)
    return check


def each_resolution_asked_once(bootstrap: str, settings: Settings, seeded: Seeded,
                               lost: list[tuple[int, str]], retried: set[int]) -> Check:
    """One request per resolution: an issue resolved once, one request id; one reopened and
    resolved again, two (or one, where a webhook of its first resolution was lost or came again
    as final → final, and the sweep read the issue only after it was resolved the second time:
    the sweep sees an issue as it is, not what it went through)."""
    check = Check("each resolution asked once")
    asked: dict[str, set[str]] = {}
    for r in records(bootstrap, RATING_REQUESTED.full_name(settings), (RatingRequested,)):
        if isinstance(r, RatingRequested):
            asked.setdefault(str(r.issue_id), set()).add(r.request_id)
    lost_issues = {issue for issue, _status in lost}
    lost_resolved = {issue for issue, status in lost if status == "completed"}
    wrong = []
    for issue in seeded.issue_contact:
        n = len(asked.get(str(issue), ()))
        if issue in seeded.reopened:
            allowed = {1, 2} if issue in lost_issues or issue in retried else {2}
        else:
            allowed = {1}
        if n not in allowed:
            wrong.append(f"issue {issue}: {n} request ids" + (" (a webhook lost in the outage)" if issue in lost_issues else ""))
    check.counts.update({
        "issues": len(seeded.issue_contact),
        "issues with a request": sum(1 for i in seeded.issue_contact if asked.get(str(i))),
        "resolutions whose webhook the outage dropped": len(lost_resolved),
        "of those, asked about": sum(1 for i in lost_resolved if asked.get(str(i))),
    })
    check.fail("issues asked about other than once per resolution", wrong)
    return check


# -- 3. each recorded rating: one comment, one rate ----------------------------------------------

def ratings_written_back(bootstrap: str, settings: Settings, issues: list[dict[str, Any]]) -> Check:
    check = Check("ratings written back once")
    recorded: dict[str, list[RatingRecorded]] = {}
    rejected: Counter = Counter()
    for r in records(bootstrap, RATING_RECORDED.full_name(settings), (RatingRecorded, RatingRejected)):
        if isinstance(r, RatingRecorded):
            recorded.setdefault(r.request_id, [])
            if all(x.event_id != r.event_id for x in recorded[r.request_id]):
                recorded[r.request_id].append(r)
        elif isinstance(r, RatingRejected):
            rejected[r.reason] += 1
    by_id = {str(i["id"]): i for i in issues}
    twice_recorded = [f"{rid} ({[x.score for x in rs]})" for rid, rs in recorded.items() if len(rs) > 1]
    wrong_comments, wrong_rate, stray = [], [], []
    marked: Counter = Counter()
    for issue in issues:
        for comment in issue.get("comment_list", []):
            content = str(comment.get("content", ""))
            if "[okrate:" in content:
                marked[content.split("[okrate:", 1)[1].split("]", 1)[0]] += 1
    for rid, rs in recorded.items():
        rec = rs[0]
        n = marked.get(rid, 0)
        if n != 1:
            wrong_comments.append(f"{rid}: {n} comments")
        issue = by_id.get(rec.issue_id)
        rate = rate_value(issue.get("rate")) if issue else None  # the API answers it as an object
        if rate != OKDESK_RATES[rec.score]:
            wrong_rate.append(f"issue {rec.issue_id}: rate {rate}, score {rec.score}")
    for rid in marked:
        if rid not in recorded:
            stray.append(rid)
    check.counts.update({
        "ratings recorded": len(recorded),
        "presses rejected": dict(rejected),
        "okrate comments on issues": sum(marked.values()),
        "issues with a rate": sum(1 for i in issues if i.get("rate")),
        "recorded, not exactly one comment": len(wrong_comments),
        "recorded, rate missing or wrong": len(wrong_rate),
    })
    check.fail("requests recorded more than once", twice_recorded)
    check.fail("recorded ratings without exactly one comment", wrong_comments)
    check.fail("recorded ratings whose issue lacks the right rate", wrong_rate)
    check.fail("okrate comments for a request that has no recorded rating", stray)
    return check


# -- 4. statistics = a refold --------------------------------------------------------------------

def stats_equal_refold(bootstrap: str, settings: Settings) -> Check:
    """Run once the live services have settled and stopped: their last snapshots are final."""
    check = Check("stats = --rebuild-stats")
    began = time.monotonic()
    result = run_refold(settings, bootstrap, trace="all")
    rebuilt = result.snapshots()
    check.counts["refold seconds"] = round(time.monotonic() - began, 1)
    live = latest_snapshots(bootstrap, RATING_STATS.full_name(settings))
    changed = differing(live, rebuilt)
    check.counts.update({"dimensions live": len(live), "dimensions refolded": len(rebuilt),
                         "dimensions differing": len(changed), "decision events refolded": result.events})
    overall = rebuilt.get("all")
    if overall is not None:
        check.counts["ratings / requests sent (dimension all, refold)"] = f"{overall.ratings_count} / {overall.requests_sent}"
    examples = []
    for d in changed:
        a, b = live.get(d), rebuilt.get(d)
        if a is None or b is None:
            examples.append(f"{d}: {'missing live' if a is None else 'missing in refold'}")
            continue
        fields = [f"{k} {getattr(a, k)!r}≠{getattr(b, k)!r}" for k in vars(a)
                  if getattr(a, k) != getattr(b, k) and k != "updated_at"]
        examples.append(f"{d}: {'; '.join(fields)[:300]}")
    check.fail("dimensions whose live figures differ from the refold (live ≠ refold)", examples, limit=3)
    if changed:
        # The batch refold folds each source position of `all` once, in order: its trace.
        check.fail("source positions counted differently in `all`",
                   fold_difference(_trace_topic(bootstrap, STATS_BY_DIMENSION.full_name(settings)),
                                   FoldTrace(folded=dict.fromkeys(result.traced, 0))), limit=20)
    return check


@dataclass
class FoldTrace:
    folded: dict[str, int] = field(default_factory=dict)  # source position -> offset of its message
    skipped: dict[str, tuple[int, int]] = field(default_factory=dict)  # -> (message offset, fold's high-water)


def trace_fold(batches: Iterable[tuple[int, StatsEffects]], dimension: str = "all") -> FoldTrace:
    """What the fold (`streams.stats.fold`, its own rule) did with each source position of one
    dimension, given the by-dimension messages in order as (offset, batch)."""
    trace, state = FoldTrace(), None
    for offset, batch in batches:
        if batch.dimension != dimension:
            continue
        for effect, pos in items_of(batch):
            if is_folded(state, pos):
                trace.skipped.setdefault(pos, (offset, state.folded[split_position(pos)[0]]))
            else:
                trace.folded[pos] = offset
            state = fold(state, dimension, effect, pos)
    return trace


def fold_difference(live: FoldTrace, rebuilt: FoldTrace) -> list[str]:
    """Which source positions the live fold and the refold counted differently, and why: one the
    live fan-out never sent, or sent after the fold had passed it. (Equal figures may come from
    different positions: a fact waiting for its request counts at the request's position, and
    the topics interleave differently in a refold; so this is looked at only when figures differ.)"""
    out = []
    for pos in sorted(rebuilt.folded.keys() - live.folded.keys()):
        if pos in live.skipped:
            at, high = live.skipped[pos]
            out.append(f"{pos} sent live at {at} when the fold was at {high}")
        else:
            out.append(f"{pos} never sent live")
    return out + [f"{pos} counted live only (at {live.folded[pos]})"
                  for pos in sorted(live.folded.keys() - rebuilt.folded.keys())]


def _trace_topic(bootstrap: str, topic: str) -> FoldTrace:
    batches = []
    for message in read_to_end(bootstrap, topic):
        try:
            batches.append((message.offset, decode(message.value, (StatsEffects,))))
        except DecodeError:
            continue
    return trace_fold(batches)


# -- 5. two workers = one ------------------------------------------------------------------------

def _request_log(bootstrap: str, settings: Settings) -> dict[str, list[str]]:
    """Per issue, what rating.requested says about it, in order: `requested <id>`, `closed <id> <reason>`."""
    out: dict[str, list[str]] = {}
    for r in records(bootstrap, RATING_REQUESTED.full_name(settings)):
        if isinstance(r, RatingRequested):
            out.setdefault(r.issue_id, []).append(f"requested {r.request_id}")
        elif isinstance(r, RatingClosed):
            out.setdefault(r.issue_id, []).append(f"closed {r.request_id} {r.reason}")
    return out


def one_worker_agrees(bootstrap: str, settings: Settings, scratch_prefix: str, data_dir: Path) -> Check:
    """Each difference is also explained where it can be: a request the one worker closed before
    it was addressed (its issue was reopened while the request made its round trip through the
    contacts agent), or an issue about which the live workers decided nothing at all."""
    check = Check("2 workers = 1 (reprocess)")
    began = time.monotonic()
    changes = reprocess(settings, bootstrap, scratch_prefix, data_dir, store="rocksdb://", timeout=600)
    check.counts["reprocess seconds"] = round(time.monotonic() - began, 1)
    for what, change in changes.items():
        check.counts[f"{what}: added/removed/changed"] = f"{len(change.added)}/{len(change.removed)}/{len(change.changed)}"
    if all(c.none for c in changes.values()):
        return check
    live = _request_log(bootstrap, settings)
    fresh = _request_log(bootstrap, settings.model_copy(update={"topic_prefix": scratch_prefix}))
    requests = changes["requests"]
    closed_first, never_decided, other = [], [], []
    for rid in requests.removed:
        issue = rid.rsplit(".", 2)[0]
        log = fresh.get(issue, [])
        if any(e.startswith(f"closed {rid} ") for e in log) and f"requested {rid}" not in log:
            closed_first.append(rid)
        else:
            other.append(f"-{rid}")
    for rid in requests.added:
        issue = rid.rsplit(".", 2)[0]
        (never_decided if not live.get(issue) else other).append(rid if not live.get(issue) else f"+{rid}")
    other += [f"~{rid} (live: {live_fate}; one worker: {fresh_fate})"
              for rid, (live_fate, fresh_fate) in requests.changed.items()]
    check.fail("requests the live workers made but one worker closed before addressing them "
               "(reopened during the addressing round trip: the outcome depends on the pace)", closed_first)
    check.fail("requests one worker made for issues the live workers decided nothing about "
               "(their events were skipped live)", never_decided)
    check.fail("other differences in requests", other)
    for what in ("recorded ratings", "rejections"):
        change = changes[what]
        check.fail(f"{what} that differ", [f"+{k}" for k in change.added] + [f"-{k}" for k in change.removed]
                   + [f"~{k}" for k in change.changed])
    return check
