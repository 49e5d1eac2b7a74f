"""Linking: `/start` explains the bot and asks for the user's phone (a reply keyboard with a
«share my phone number» button); the shared contact must be the sender's own, its number is looked
up in Okdesk (at most BOT_PHONE_LINKS_PER_HOUR numbers an hour), and exactly one match links
it. `/start <token>` links by an invite instead.
After linking, a pending «new issue» goes on (see `new_issue`)."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import Message

from base.links import link_record
from notifier.conversations import AWAITING_CONTACT, Conversation, StepIs
from notifier.conversations.prompts import ask_for_description, ask_for_phone
from notifier.okdesk.client import OkdeskError
from notifier.telegram import limits, phones
from notifier.telegram.bot_state import IDLE
from notifier.telegram.invites import invite_verdict
from schemas.keys import okdesk_id
from schemas.records import utc_now

log = logging.getLogger("okrate.notifier.linking")


async def linked(conv: Conversation, contact_id: str, source: str) -> None:
    """Writes the link, says so, and goes on with what the user wanted before linking."""
    await conv.services.links.write(link_record(contact_id, "linked", source, conv.user_id))
    then = conv.state.data.get("then") if conv.state else None
    conv.reply(conv.text("link.done"), remove_keyboard=True)
    await conv.idle()
    if then == "new_issue":
        await ask_for_description(conv)


async def start_with_invite(message: Message, command: CommandObject, conv: Conversation) -> None:
    token = (command.args or "").strip()
    invite = conv.services.state.invites.get(token)
    verdict = invite_verdict(invite, utc_now())
    if verdict != "valid":
        if verdict == "used" and invite is not None and invite.used_by_user_id == conv.user_id \
                and invite.contact_id in conv.contacts:
            conv.reply(conv.text("link.already"), remove_keyboard=True)
            return
        key = {"unknown": "invite.unknown", "used": "invite.used", "expired": "invite.expired"}[verdict]
        conv.reply(conv.text(key, support=conv.support()), remove_keyboard=True)
        return
    assert invite is not None
    if invite.contact_id in conv.contacts:
        await conv.services.state.use_invite(invite, conv.user_id)
        conv.reply(conv.text("link.already"), remove_keyboard=True)
        return
    await conv.services.state.use_invite(invite, conv.user_id)
    await linked(conv, invite.contact_id, "invite")


async def start(message: Message, conv: Conversation) -> None:
    if conv.contacts:
        conv.reply(conv.text("link.already"), remove_keyboard=True)
        await conv.idle()
        return
    ask_for_phone(conv)
    await conv.set_step(AWAITING_CONTACT)


async def shared_contact(message: Message, conv: Conversation) -> None:
    contact = message.contact
    assert contact is not None
    if contact.user_id != conv.user_id:
        conv.reply(conv.text("link.not_own"), contact_button=conv.text("button.share_phone"))
        return  # someone else's card: the step stays, the button stays
    if conv.contacts:
        conv.reply(conv.text("link.already"), remove_keyboard=True)
        await conv.idle()
        return
    number = phones.normalise(contact.phone_number)
    if number is None:
        conv.reply(conv.text("link.bad_phone", phone=contact.phone_number, support=conv.support()),
                   remove_keyboard=True)
        await conv.idle()
        return
    okdesk = conv.services.okdesk
    if okdesk is None:
        conv.reply(conv.text("link.lookup_failed"), contact_button=conv.text("button.share_phone"))
        return
    if over_the_hour_limit(conv):
        return
    found: dict[str, dict] = {}
    try:
        for form in phones.lookup_forms(number):
            for item in await okdesk.find_contacts(form):
                found.setdefault(okdesk_id(item["id"]), item)
    except OkdeskError as exc:
        log.warning("contact lookup failed: %s", exc)
        conv.reply(conv.text("link.lookup_failed"), contact_button=conv.text("button.share_phone"))
        await conv.set_step(AWAITING_CONTACT, data=_kept(conv))
        return
    shown = phones.shown(number)
    if len(found) == 1:
        await linked(conv, next(iter(found)), "phone")
        return
    key = "link.not_found" if not found else "link.ambiguous"
    conv.reply(conv.text(key, phone=shown, support=conv.support()), remove_keyboard=True)
    await conv.set_step(IDLE)


def over_the_hour_limit(conv: Conversation) -> bool:
    """BOT_PHONE_LINKS_PER_HOUR: each shared number is a contact search in Okdesk. Within the
    limit the attempt is counted (in the chat's state: a restart keeps it); beyond it the user is
    told when to try again."""
    now = conv.now()
    tries = limits.decode_times(conv.state.data.get(limits.PHONE_TRIES) if conv.state else None)
    verdict = limits.phone_verdict(tries, now, conv.services.limits)
    if not verdict.allowed:
        assert verdict.again_at is not None
        conv.refuse(limits.PHONE_LINKS_PER_HOUR)
        conv.reply(conv.text("link.limit", support=conv.support(), **conv.when(verdict.again_at)),
                   remove_keyboard=True)
        return True
    conv.remember(limits.PHONE_TRIES, limits.encode_times(limits.after_try(tries, now)))
    return False


async def typed_instead_of_shared(message: Message, conv: Conversation) -> None:
    """A typed number cannot be trusted to be the user's own: ask for the button again."""
    ask_for_phone(conv)


def _kept(conv: Conversation) -> dict[str, str]:
    then = conv.state.data.get("then") if conv.state else None
    return {"then": then} if then else {}


def make_router() -> Router:
    """A new router (one per dispatcher: an aiogram router belongs to one parent)."""
    router = Router(name="linking")
    router.message.register(start_with_invite, CommandStart(deep_link=True))
    router.message.register(start, CommandStart())
    router.message.register(shared_contact, F.contact)
    router.message.register(typed_instead_of_shared, StepIs(AWAITING_CONTACT), F.text, ~F.text.startswith("/"))
    return router
