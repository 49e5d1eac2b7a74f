"""Updates Telegram never sends, forged through the webhook path with the right secret: the
notifier answers nothing it cannot read, logs one warning line each, and goes on answering the
chat's genuine updates."""

from __future__ import annotations

import json
import logging

from confluent_kafka import Producer

from schemas.codec import encode
from schemas.telegram_envelope import envelope_key, telegram_envelope
from schemas.topics import TELEGRAM_UPDATES
from tests.notifier.conftest import running_notifier
from tests.notifier.helpers import said

CHAT = 1605


def _update(update_id: int, text: str, **sender) -> bytes:
    message = {"message_id": update_id, "date": 1764000000, "chat": {"id": CHAT, "type": "private"},
               "from": {"id": CHAT, "is_bot": False, "first_name": "Иван", **sender}, "text": text}
    return json.dumps({"update_id": update_id, "message": message}, ensure_ascii=False).encode()


async def test_forged_updates_are_one_warning_each_and_the_chat_is_still_answered(kafka_bootstrap, nsettings, tg, caplog):
    settings = nsettings()
    user = tg.state.user(CHAT, "Иван", language_code="en")
    no_message_id = json.loads(_update(990002, "hi"))
    del no_message_id["message"]["message_id"]
    bodies = [
        _update(990001, "/start", language_code=["en"]),  # not a string: never kept as the chat's language
        json.dumps(no_message_id).encode(),  # aiogram cannot read it
        _update(990003, "/start", language_code="en"),
    ]
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for body in bodies:
        envelope = telegram_envelope(body, source="webhook")
        producer.produce(TELEGRAM_UPDATES.full_name(settings), key=envelope_key(envelope), value=encode(envelope))
    assert producer.flush(30) == 0
    with caplog.at_level(logging.WARNING, logger="okrate.notifier"):
        async with running_notifier(settings, kafka_bootstrap):
            await said(tg.state, user, "Hello!")
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("okrate.")]
    assert errors == []
    assert any("990002" in r.getMessage() and "not a Telegram update" in r.getMessage() for r in caplog.records)
