"""A new issue from the bot: «Создать новую заявку» (or `/new`) → a description (its first line,
when more follow, is the title) → the issue is created in Okdesk with the linked contact and their
company (by `IssueCreator`, once, keyed by the update id) → its number and a link.
An unlinked user is asked to link first, and the new issue goes on after linking. Beyond
BOT_NEW_ISSUES_PER_DAY a day the user is told when they can again (notifier.telegram.limits)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from notifier import render
from notifier.conversations import AWAITING_CONTACT, AWAITING_DESCRIPTION, Conversation, StepIs
from notifier.conversations.prompts import ask_for_description, ask_for_phone
from notifier.telegram import limits
from schemas.callback_data import NEW_ISSUE


def over_the_day_limit(conv: Conversation) -> bool:
    """BOT_NEW_ISSUES_PER_DAY reached: says when the user can again, and nothing goes to Okdesk."""
    verdict = limits.new_issue_verdict(conv.services.issues_created_by(conv.user_id), conv.now(),
                                       conv.services.limits)
    if verdict.allowed:
        return False
    assert verdict.again_at is not None
    conv.refuse(limits.NEW_ISSUES_PER_DAY)
    conv.reply(conv.text("new.limit", limit=conv.services.limits.new_issues_per_day, **conv.when(verdict.again_at)))
    return True


async def new_issue(conv: Conversation) -> None:
    if not conv.contacts:
        ask_for_phone(conv, "new.need_link")
        await conv.set_step(AWAITING_CONTACT, data={"then": "new_issue"})
        return
    if over_the_day_limit(conv):
        await conv.idle()
        return
    await ask_for_description(conv)


async def new_command(message: Message, conv: Conversation) -> None:
    await new_issue(conv)


async def new_button(query: CallbackQuery, conv: Conversation) -> None:
    await new_issue(conv)


async def cancel(query: CallbackQuery, conv: Conversation) -> None:
    if conv.step == AWAITING_DESCRIPTION:
        conv.reply(conv.text("new.cancelled"))
    await conv.idle()


async def description(message: Message, conv: Conversation) -> None:
    text = (message.text or message.caption or "").strip()
    if not text:
        conv.reply(conv.text("new.empty"))
        return
    contacts = conv.contacts
    if not contacts:  # unlinked meanwhile (an operator, or /stop from another device)
        ask_for_phone(conv, "new.need_link")
        await conv.set_step(AWAITING_CONTACT, data={"then": "new_issue"})
        return
    if over_the_day_limit(conv):  # asked for before the limit was reached, described after
        await conv.idle()
        return
    title, body = render.split_issue_text(text, conv.text("new.default_title"))
    conv.reply(conv.text("new.accepted"))
    await conv.services.creator.accept(
        update_id=conv.update_id, chat_id=conv.chat_id, user_id=conv.user_id, contact_id=contacts[0],
        title=title, text=body, language_code=conv.language_code,
    )
    await conv.idle()


def make_router() -> Router:
    """A new router (one per dispatcher: an aiogram router belongs to one parent)."""
    router = Router(name="new_issue")
    router.message.register(new_command, Command("new"))
    router.callback_query.register(new_button, F.data == NEW_ISSUE)
    router.callback_query.register(cancel, F.data == render.CANCEL)
    router.message.register(description, StepIs(AWAITING_DESCRIPTION), ~F.text.startswith("/"))
    return router
