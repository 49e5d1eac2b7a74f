"""The notifier's decisions, as pure functions: what to do for which event, whether a step is
already done, and what a failure means. No Kafka, no network: `tests/notifier/test_decide.py`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from notifier import render
from notifier.locale import Texts
from schemas.records import (
    RatingClosed,
    RatingExpired,
    RatingRecorded,
    RatingRejected,
    RatingReminder,
    RatingRequested,
    ReasonRecorded,
    Record,
)

# Outcome statuses (SideEffectOutcome.status)
OK = "ok"
FAILED = "failed"
UNDELIVERABLE = "undeliverable"
POSSIBLE_DUPLICATE = "possible_duplicate"

# Steps of a request on Telegram's side, and the outcome kinds they are recorded under.
KIND = {
    "request": "telegram.send_request",
    "reminder": "telegram.send_reminder",
    "expired": "telegram.edit_request",
    "closed": "telegram.edit_request",
    "recorded": "telegram.show_decision",
    "thanks": "telegram.show_decision",
    "rejected": "telegram.show_decision",
    "reasons": "telegram.ask_reason",
    "reason": "telegram.show_decision",
    "reply": "telegram.reply",
    "alert": "telegram.alert",
}
LOW_SCORE = 3  # reasons are asked for scores up to this one (the streams record them up to it)


def step_key(request_id: str, step: str, recipient: int | str | None) -> str:
    """Idempotency key: request id + step + recipient (the same for every attempt)."""
    return f"{request_id}:{step}:{recipient if recipient is not None else '-'}"


@dataclass(frozen=True)
class TelegramAction:
    """One message or edit to make. An edit names the message by `edit_key` (the key of the send
    whose message it edits, resolved when it runs: that send may still be queued) or by a known
    `message_id`; its text is the original message's text (kept in the outcome log) plus `note`."""

    key: str
    kind: str
    op: Literal["send", "edit"]
    issue_id: str | None
    request_id: str | None
    user_id: int | None
    chat_id: int
    message: render.Message | None = None  # send
    reply_to_key: str | None = None  # send as a reply to the message of that send
    reply_to_message_id: int | None = None
    note: str | None = None  # edit
    edit_key: str | None = None
    message_id: int | None = None
    fallback_title: str | None = None
    remember_text: bool = False  # keep the sent text in the outcome (to edit it later)
    log_key: str | None = None  # key on notifier.outcomes when there is no issue (`chat:<id>`)


@dataclass(frozen=True)
class Delivery:
    """A request message as the log knows it (or as it is queued)."""

    user_id: int | None
    chat_id: int
    message_id: int | None = None
    text: str | None = None


def _no_language(_chat_id: int | None) -> str | None:
    return None


@dataclass(frozen=True)
class Context:
    texts: Texts
    portal_url: str | None = None
    reasons: tuple[str, ...] = ()  # RATING_REASONS: asked after a score of LOW_SCORE or less
    language: Callable[[int | None], str | None] = _no_language  # chat -> Telegram language_code

    def locale(self, chat_id: int | None) -> str:
        return self.texts.locale_for(self.language(chat_id))


def request_actions(record: Record, ctx: Context, deliveries: Iterable[Delivery] = ()) -> list[TelegramAction]:
    """For a record of `rating.requested`: the request message, a reminder, or the edit that
    closes an expired or closed request's message (one per chat it was delivered to)."""
    texts = ctx.texts
    if isinstance(record, RatingRequested):
        if not record.deliverable or record.recipient_chat_id is None:
            return []
        loc = ctx.locale(record.recipient_chat_id)
        user = record.recipient_user_id
        return [TelegramAction(
            key=step_key(record.request_id, "request", user), kind=KIND["request"], op="send",
            issue_id=record.issue_id, request_id=record.request_id, user_id=user,
            chat_id=record.recipient_chat_id,
            message=render.request_message(record, texts, loc, ctx.portal_url), remember_text=True,
        )]
    if isinstance(record, RatingReminder):
        targets = _targets(record.recipient_user_id, record.recipient_chat_id, deliveries)
        return [TelegramAction(
            key=step_key(record.request_id, "reminder", d.user_id), kind=KIND["reminder"], op="send",
            issue_id=record.issue_id, request_id=record.request_id, user_id=d.user_id,
            chat_id=d.chat_id, message=render.reminder_message(record.issue_id, texts, ctx.locale(d.chat_id)),
            reply_to_key=step_key(record.request_id, "request", d.user_id),
        ) for d in targets]
    if isinstance(record, RatingExpired | RatingClosed):
        step = "expired" if isinstance(record, RatingExpired) else "closed"
        reason = record.reason if isinstance(record, RatingClosed) else None
        targets = _targets(record.recipient_user_id, record.recipient_chat_id, deliveries, all_known=True)
        return [TelegramAction(
            key=step_key(record.request_id, step, d.user_id), kind=KIND[step], op="edit",
            issue_id=record.issue_id, request_id=record.request_id, user_id=d.user_id,
            chat_id=d.chat_id, note=render.closing_note(step, reason, texts, ctx.locale(d.chat_id)),
            edit_key=step_key(record.request_id, "request", d.user_id),
        ) for d in targets]
    return []


def decision_actions(record: Record, ctx: Context, deliveries: Iterable[Delivery] = ()) -> list[TelegramAction]:
    """For a record of `rating.recorded`: show the decision to the user who pressed (and, for a
    low score, ask what went wrong; for a recorded reason, thank for it)."""
    texts = ctx.texts
    if isinstance(record, RatingRecorded | ReasonRecorded):
        user = record.from_user_id
        chat = record.chat_id if isinstance(record, RatingRecorded) else None
        if chat is None:
            known = [d for d in deliveries if d.user_id == user]
            if not known and isinstance(record, ReasonRecorded):
                chat = user  # a reason is given in the user's private chat
            elif not known:
                return []
            else:
                chat = known[0].chat_id
        loc = ctx.locale(chat)
        if isinstance(record, ReasonRecorded):
            code = record.reason_code or "text"
            return [TelegramAction(
                key=step_key(record.request_id, f"reason.{code}", user), kind=KIND["reason"], op="send",
                issue_id=record.issue_id, request_id=record.request_id, user_id=user, chat_id=chat,
                message=render.reason_thanks(record, texts, loc),
            )]
        actions = [
            TelegramAction(
                key=step_key(record.request_id, "recorded", user), kind=KIND["recorded"], op="edit",
                issue_id=record.issue_id, request_id=record.request_id, user_id=user, chat_id=chat,
                note=render.recorded_note(record.score, texts, loc),
                edit_key=step_key(record.request_id, "request", user), message_id=record.message_id,
                fallback_title=record.title,
            ),
            TelegramAction(
                key=step_key(record.request_id, "thanks", user), kind=KIND["thanks"], op="send",
                issue_id=record.issue_id, request_id=record.request_id, user_id=user, chat_id=chat,
                message=render.thanks_message(texts, loc),
            ),
        ]
        if ctx.reasons and 1 <= record.score <= LOW_SCORE:
            actions.append(reason_question_action(record, chat, ctx))
        return actions
    if isinstance(record, RatingRejected):
        if record.chat_id is None:
            return []
        loc = ctx.locale(record.chat_id)
        return [TelegramAction(
            key=step_key(record.request_id, f"rejected.{record.update_id}", record.from_user_id),
            kind=KIND["rejected"], op="send", issue_id=record.issue_id, request_id=record.request_id,
            user_id=record.from_user_id, chat_id=record.chat_id,
            message=render.rejection_message(record, texts, loc),
            reply_to_message_id=record.message_id,
        )]
    return []


def reason_question_action(record: RatingRecorded, chat: int, ctx: Context) -> TelegramAction:
    """«What went wrong?» with a button per RATING_REASONS entry; the conversation then waits for
    an optional free-text answer."""
    return TelegramAction(
        key=step_key(record.request_id, "reasons", record.from_user_id), kind=KIND["reasons"], op="send",
        issue_id=record.issue_id, request_id=record.request_id, user_id=record.from_user_id, chat_id=chat,
        message=render.reason_question(record.request_id, ctx.reasons, ctx.texts, ctx.locale(chat)),
    )


def _targets(user: int | None, chat: int | None, deliveries: Iterable[Delivery], all_known: bool = False) -> list[Delivery]:
    known = list(deliveries)
    if chat is not None:
        chosen = [Delivery(user, chat)]
        if all_known:  # a re-addressed request: every message of it is closed
            chosen += [d for d in known if (d.user_id, d.chat_id) != (user, chat)]
        return chosen
    seen: dict[tuple[int | None, int], Delivery] = {}
    for d in known:
        seen.setdefault((d.user_id, d.chat_id), d)
    return list(seen.values())


# -- the outcome log's verdicts ---------------------------------------------------------------


@dataclass
class Entry:
    """What `notifier.outcomes` says about one idempotency key."""

    key: str
    kind: str = ""
    intents: int = 0
    last_attempt: int = 0
    status: str | None = None  # the latest outcome's status; None: intent without outcome
    issue_id: str | None = None
    request_id: str | None = None
    user_id: int | None = None
    chat_id: int | None = None
    message_id: int | None = None
    okdesk_comment_id: str | None = None
    first_intended_at: float | None = None
    intent_details: dict[str, str] = field(default_factory=dict)
    outcome_details: dict[str, str] = field(default_factory=dict)
    error: str | None = None


Plan = Literal["do", "redo_after_crash", "skip"]


def telegram_plan(entry: Entry | None) -> Plan:
    """A step with any outcome is done (failures were retried before they were recorded); an
    intent without outcome was cut short by a crash: do it again (a send then counts as
    `possible_duplicate`, since Telegram cannot be asked whether it arrived)."""
    if entry is None or (entry.intents == 0 and entry.status is None):
        return "do"
    if entry.status is None:
        return "redo_after_crash"
    return "skip"


def okdesk_plan(entry: Entry | None) -> Plan:
    """An Okdesk write with an outcome is done; with an intent only, it is pending (a crash, or
    retries in progress): it is reconciled with Okdesk before anything is written again."""
    if entry is None or (entry.intents == 0 and entry.status is None):
        return "do"
    if entry.status is None:
        return "redo_after_crash"
    return "skip"


# -- what a failure means -------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    status: str | None  # an outcome status, or None: try again
    retry_after: float = 0.0


def telegram_verdict(http_status: int | None, description: str, retry_after: float | None = None) -> Verdict:
    """Telegram's answer to a failed call → final status, or how long to wait before retrying."""
    text = description.lower()
    if http_status == 429:
        return Verdict(None, max(float(retry_after or 1), 0.0))
    if "message is not modified" in text:
        return Verdict(OK)
    if http_status == 403 or "chat not found" in text or "user is deactivated" in text:
        return Verdict(UNDELIVERABLE)
    if http_status is None or http_status >= 500:
        return Verdict(None, 1.0)
    return Verdict(FAILED)


def okdesk_retryable(http_status: int | None) -> bool:
    """429, 5xx and no answer at all (timeouts, refused connections) are retried."""
    return http_status is None or http_status == 429 or http_status >= 500


def backoff(attempt: int, base: float = 1.0, cap: float = 300.0, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [base/2, min(cap, base·2^(attempt-1))]."""
    high = min(cap, base * 2 ** max(attempt - 1, 0))
    return (rng or random).uniform(min(base / 2, high), high)
