"""Injected trouble: 5xx for a while or for a few calls, 429 bursts, latency."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter, TelegramServerError

from sandbox.clock import FakeClock
from sandbox.telegram_api import RunningTelegram


async def test_an_outage_fails_every_call_until_it_ends(
    bot: Bot, tg: RunningTelegram, clock: FakeClock
) -> None:
    tg.state.faults.fail_for(30, status=502)
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.send_message(1, "hello")
    clock.advance(29)
    with pytest.raises(TelegramServerError):
        await bot.get_me()
    clock.advance(1)
    await bot.send_message(1, "hello")
    assert [e.text for e in tg.state.transcript(1)] == ["hello"]


async def test_the_next_calls_can_fail_for_one_method_only(bot: Bot, tg: RunningTelegram) -> None:
    tg.state.faults.fail_next(2, status=500, methods=["sendMessage"])
    await bot.get_me()
    for _ in range(2):
        with pytest.raises(TelegramServerError, match="Internal Server Error"):
            await bot.send_message(1, "hello")
    await bot.send_message(1, "hello")
    assert [c.status for c in tg.state.calls_to("sendMessage")] == [500, 500, 200]


async def test_a_429_burst_carries_retry_after(bot: Bot, tg: RunningTelegram) -> None:
    tg.state.faults.rate_limit_next(1, retry_after=7)
    with pytest.raises(TelegramRetryAfter) as err:
        await bot.send_message(1, "hello")
    assert err.value.retry_after == 7
    await bot.send_message(1, "hello")


async def test_latency_delays_answers(bot: Bot, tg: RunningTelegram) -> None:
    tg.state.faults.set_latency(0.2, methods=["getMe"])
    loop = asyncio.get_running_loop()
    started = loop.time()
    await bot.get_me()
    assert loop.time() - started >= 0.2
    started = loop.time()
    await bot.send_message(1, "fast")
    assert loop.time() - started < 0.2


async def test_calls_are_recorded_without_the_token(bot: Bot, tg: RunningTelegram) -> None:
    await bot.send_message(1, "hello")
    call = tg.state.calls[-1]
    assert (call.method, call.params["chat_id"], call.status) == ("sendMessage", "1", 200)
    assert call.response["result"]["text"] == "hello"
    assert tg.token not in repr(tg.state.calls)
