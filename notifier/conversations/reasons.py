"""What went wrong: after a recorded score of 3 or less the bot asks (buttons of RATING_REASONS,
which the streams read as presses, and an optional free-text answer). A text sent while the chat
waits for a reason becomes a `ReasonGiven` on `rating.received`, keyed by the issue id, its event
id derived from the update id: a redelivered update is the same event. At most
BOT_REASON_MAX_CHARS characters each (a longer one is answered with a request to shorten it) and
BOT_REASONS_PER_REQUEST texts per request (notifier.telegram.limits)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from notifier import render
from notifier.conversations import AWAITING_REASON, Conversation, StepIs
from notifier.telegram import limits
from notifier.telegram.bot_state import publish_record
from schemas.keys import issue_key
from schemas.records import ReasonGiven


def text_reason(conv: Conversation, request_id: str, issue_id: str, text: str) -> ReasonGiven:
    return ReasonGiven(
        event_id=f"reason-text/{conv.update_id}", update_id=conv.update_id, request_id=request_id,
        issue_id=issue_id, reason_code=None, text=text, from_user_id=conv.user_id,
        chat_id=conv.chat_id, given_at=conv.received_at,
    )


async def free_text(message: Message, conv: Conversation) -> None:
    state = conv.state
    assert state is not None and message.text
    request_id, issue_id = state.request_id, state.data.get("issue_id")
    text = message.text.strip()
    if request_id and issue_id and conv.services.publisher is not None:
        given = limits.reasons_given(state.data.get(limits.REASON_TEXTS), request_id)
        verdict = limits.reason_verdict(text, given, conv.services.limits)
        if verdict == "too_long":  # the step stays: a shorter text is welcome
            conv.refuse(limits.REASON_TOO_LONG)
            conv.reply(conv.text("reasons.too_long", max=conv.services.limits.reason_max_chars))
            return
        if verdict == "too_many":
            conv.refuse(limits.REASONS_PER_REQUEST)
            conv.reply(conv.text("reasons.enough"))
            await conv.idle()
            return
        record = text_reason(conv, request_id, issue_id, text)
        await publish_record(conv.services.publisher, conv.services.received_topic, issue_key(issue_id), record)
        conv.remember(limits.REASON_TEXTS, limits.with_reason_given(state.data.get(limits.REASON_TEXTS), request_id))
    await conv.idle()  # the thanks comes when the streams have recorded it


async def skip(query: CallbackQuery, conv: Conversation) -> None:
    if conv.step == AWAITING_REASON:
        conv.reply(conv.text("reasons.skipped"))
    await conv.idle()


def make_router() -> Router:
    """A new router (one per dispatcher: an aiogram router belongs to one parent)."""
    router = Router(name="reasons")
    router.message.register(free_text, StepIs(AWAITING_REASON), F.text, ~F.text.startswith("/"))
    router.callback_query.register(skip, F.data == render.REASON_SKIP)
    return router
