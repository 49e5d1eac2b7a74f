"""Leaving: `/stop` writes an unlink for every contact linked to the user (the streams then close
the user's open requests and address no new ones) and says how to come back."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from base.links import link_record
from notifier.conversations import Conversation


async def stop(message: Message, conv: Conversation) -> None:
    contacts = conv.contacts
    for contact_id in contacts:
        await conv.services.links.write(link_record(contact_id, "unlinked", "stop", conv.user_id))
    await conv.idle()
    conv.reply(conv.text("stop.done" if contacts else "stop.not_linked"), remove_keyboard=True)


def make_router() -> Router:
    """A new router (one per dispatcher: an aiogram router belongs to one parent)."""
    router = Router(name="stop")
    router.message.register(stop, Command("stop"))
    return router
