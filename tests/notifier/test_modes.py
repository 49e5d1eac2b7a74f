"""One poller per bot (a second instance waits as a standby), and webhook mode."""

from __future__ import annotations

import asyncio

from notifier.service import Notifier
from tests.notifier.conftest import FAST, request, running_notifier


async def test_a_second_instance_waits_as_a_standby_and_takes_over(kafka_bootstrap, nsettings, feed, tg):
    settings = nsettings()
    state = tg.state
    user = state.user(801)
    f = feed(settings)
    async with running_notifier(settings, kafka_bootstrap) as first:
        second = Notifier(settings, kafka_bootstrap, FAST)
        starting = asyncio.create_task(second.start())
        # refused by Telegram (409: another getUpdates) twice over, and still waiting
        await state.wait_until(lambda: second.poller is not None and second.poller.conflicts >= 2, within=30)
        assert not second.started.is_set()  # standby: it sends nothing, consumes nothing
        assert second.poller.conflicts >= 1 and first.started.is_set()
        f.requested(request(4001, user=801))
        await state.wait_until(lambda: user.bot_messages(), within=10)
        update = user.press(text="⭐⭐⭐ Нормально (3)")
        query = state.callback_queries[update["callback_query"]["id"]]
        await state.wait_until(lambda: query.answered_at, within=5)
    try:
        await asyncio.wait_for(starting, 15)  # the first one stopped: the standby takes over
        f.requested(request(4002, 2, user=801))
        await state.wait_until(lambda: len(user.bot_messages()) == 2, within=10)
    finally:
        await second.stop()
    assert len(user.bot_messages()) == 2  # the first request was not sent again


async def test_webhook_mode_sets_the_webhook_and_does_not_poll(kafka_bootstrap, nsettings, feed, tg):
    settings = nsettings(telegram_webhook_url="https://okrate.example.org/telegram-webhook",
                         telegram_webhook_secret="s3cret-token")
    state = tg.state
    async with running_notifier(settings, kafka_bootstrap):
        feed(settings).requested(request(4100, user=802))
        await state.wait_until(lambda: state.user(802).bot_messages(), within=15)
    [call] = state.calls_to("setWebhook")
    assert call.params["url"] == "https://okrate.example.org/telegram-webhook"
    assert call.params["secret_token"] == "s3cret-token"
    assert state.calls_to("getUpdates") == []
