"""The two questions that open a step, asked from more than one conversation: the phone (linking,
and a new issue from an unlinked user) and the description (a new issue, and after linking)."""

from __future__ import annotations

from notifier import render
from notifier.conversations import AWAITING_DESCRIPTION, Conversation


def ask_for_phone(conv: Conversation, intro_key: str = "start.intro") -> None:
    conv.reply(conv.text(intro_key), contact_button=conv.text("button.share_phone"))


async def ask_for_description(conv: Conversation) -> None:
    conv.reply(conv.text("new.ask"), keyboard=((render.Button(conv.text("button.cancel"), render.CANCEL),),))
    await conv.set_step(AWAITING_DESCRIPTION)
