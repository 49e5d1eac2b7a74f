"""The user's side over HTTP (``/_sandbox/``), as the sandbox page will drive it."""

from __future__ import annotations

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramServerError
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from sandbox.telegram_api import RunningTelegram


async def test_a_user_writes_presses_and_sees_the_chat_over_http(
    bot: Bot, tg: RunningTelegram, http: aiohttp.ClientSession
) -> None:
    base = f"{tg.base_url}/_sandbox"
    async with http.post(f"{base}/users", json={"id": 1001, "first_name": "Алиса"}) as resp:
        assert resp.status == 200
    async with http.post(f"{base}/users/1001/send", json={"text": "/start"}) as resp:
        assert (await resp.json())["update"]["message"]["text"] == "/start"
    tg.state.clock.advance(1)  # type: ignore[attr-defined]
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="5", callback_data="rate:5")]]
    )
    sent = await bot.send_message(1001, "Оцените", reply_markup=keyboard)
    async with http.post(f"{base}/users/1001/press", json={"data": "rate:5"}) as resp:
        query = (await resp.json())["update"]["callback_query"]
        assert query["message"]["message_id"] == sent.message_id
    async with http.post(f"{base}/users/1001/press", json={"data": "rate:4"}) as resp:
        assert resp.status == 409 and "no such button" in (await resp.json())["error"]
    async with http.get(f"{base}/chats/1001") as resp:
        view = await resp.json()
    assert [m["text"] for m in view["messages"]] == ["/start", "Оцените"]
    assert view["messages"][1]["buttons"] == [[{"text": "5", "callback_data": "rate:5"}]]
    async with http.get(f"{base}/calls", params={"method": "sendMessage"}) as resp:
        assert len((await resp.json())["calls"]) == 1


async def test_unknown_users_and_faults_over_http(
    bot: Bot, tg: RunningTelegram, http: aiohttp.ClientSession
) -> None:
    base = f"{tg.base_url}/_sandbox"
    async with http.post(f"{base}/users/77/send", json={"text": "hi"}) as resp:
        assert resp.status == 404
    async with http.post(f"{base}/faults", json={"kind": "fail_next", "count": 1}) as resp:
        assert resp.status == 200
    with pytest.raises(TelegramServerError):
        await bot.get_me()
    async with http.post(f"{base}/faults", json={"kind": "explode"}) as resp:
        assert resp.status == 400
