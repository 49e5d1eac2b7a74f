"""Whatever no conversation is waiting for: a short help."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import Message

from notifier.conversations import Conversation


async def anything_else(message: Message, conv: Conversation) -> None:
    conv.reply(conv.text("help.text"))


def make_router() -> Router:
    """A new router (one per dispatcher: an aiogram router belongs to one parent)."""
    router = Router(name="help")
    router.message.register(anything_else)
    return router
