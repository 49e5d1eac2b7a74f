"""Getting updates: offsets, long polling, Telegram's 409 conflicts, and webhook mode."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramConflictError
from aiohttp import web

from sandbox.runner import run_app
from sandbox.telegram_api import RunningTelegram


@dataclass
class Receiver:
    """A bot's webhook endpoint: records what Telegram posts; answers ``status``."""

    url: str = ""
    status: int = 200
    received: list[tuple[dict, str | None]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()

    async def handle(request: web.Request) -> web.Response:
        if rec.status != 200:
            return web.Response(status=rec.status)
        rec.received.append(
            (await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        )
        return web.Response()

    app = web.Application()
    app.router.add_post("/tg", handle)
    async with run_app(app) as base:
        rec.url = f"{base}/tg"
        yield rec


async def test_updates_are_numbered_and_forgotten_once_confirmed(
    bot: Bot, tg: RunningTelegram
) -> None:
    alice = tg.state.user(1001)
    for text in ("one", "two", "three"):
        alice.send(text)
    first_two = await bot.get_updates(limit=2)
    assert [u.message.text for u in first_two] == ["one", "two"]  # type: ignore[union-attr]
    assert first_two[1].update_id == first_two[0].update_id + 1
    again = await bot.get_updates()
    assert len(again) == 3  # nothing is confirmed until an offset says so
    rest = await bot.get_updates(offset=first_two[1].update_id + 1)
    assert [u.message.text for u in rest] == ["three"]  # type: ignore[union-attr]
    assert len(await bot.get_updates()) == 1


async def test_a_command_carries_a_bot_command_entity(bot: Bot, tg: RunningTelegram) -> None:
    tg.state.user(1001).command("start", "issue_7")
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.text == "/start issue_7"
    [entity] = update.message.entities or []
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 6)


async def test_long_polling_waits_for_the_next_update(bot: Bot, tg: RunningTelegram) -> None:
    polling = asyncio.create_task(bot.get_updates(timeout=5))
    await tg.state.wait_until(lambda: tg.state.updates.poll_waiting)
    tg.state.user(1001).send("hello")
    [update] = await asyncio.wait_for(polling, 1)
    assert update.message is not None and update.message.text == "hello"


async def test_long_polling_answers_empty_when_its_timeout_passes(bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await bot.get_updates(timeout=1) == []
    assert loop.time() - started >= 0.9


async def test_a_second_get_updates_ends_the_waiting_one_with_a_conflict(
    tg: RunningTelegram, bot: Bot
) -> None:
    from tests.sandbox.conftest import make_bot

    first = asyncio.create_task(bot.get_updates(timeout=5))
    await tg.state.wait_until(lambda: tg.state.updates.poll_waiting)
    other = make_bot(tg)
    try:
        assert await other.get_updates() == []
    finally:
        await other.session.close()
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, 1)


async def test_allowed_updates_filters_what_is_delivered(bot: Bot, tg: RunningTelegram) -> None:
    assert await bot.get_updates(allowed_updates=["callback_query"]) == []
    tg.state.user(1001).send("not wanted")
    assert await bot.get_updates() == []


async def test_webhook_mode_posts_updates_with_the_secret_and_blocks_get_updates(
    bot: Bot, tg: RunningTelegram, receiver: Receiver
) -> None:
    assert await bot.set_webhook(receiver.url, secret_token="s3cr3t-Token_1")
    with pytest.raises(TelegramConflictError, match="can't use getUpdates method while webhook"):
        await bot.get_updates()
    tg.state.user(1001).send("hello")
    await tg.state.wait_until(lambda: receiver.received)
    [(update, secret)] = receiver.received
    assert update["message"]["text"] == "hello" and secret == "s3cr3t-Token_1"
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == (receiver.url, 0)


async def test_a_failing_webhook_is_retried_and_reported(
    bot: Bot, tg: RunningTelegram, receiver: Receiver
) -> None:
    receiver.status = 500
    await bot.set_webhook(receiver.url)
    tg.state.user(1001).send("hello")
    await tg.state.wait_until(lambda: tg.state.webhook.last_error_message)
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    receiver.status = 200
    await tg.state.wait_until(lambda: receiver.received)
    assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_deleting_the_webhook_hands_pending_updates_to_get_updates(
    bot: Bot, tg: RunningTelegram, receiver: Receiver
) -> None:
    receiver.status = 503
    await bot.set_webhook(receiver.url)
    tg.state.user(1001).send("kept")
    await bot.delete_webhook()
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.text == "kept"


async def test_setting_a_webhook_ends_a_waiting_get_updates(
    bot: Bot, tg: RunningTelegram, receiver: Receiver
) -> None:
    from tests.sandbox.conftest import make_bot

    polling = asyncio.create_task(bot.get_updates(timeout=5))
    await tg.state.wait_until(lambda: tg.state.updates.poll_waiting)
    other = make_bot(tg)
    try:
        await other.set_webhook(receiver.url)
    finally:
        await other.session.close()
    with pytest.raises(TelegramConflictError, match="terminated by setWebhook request"):
        await asyncio.wait_for(polling, 1)
