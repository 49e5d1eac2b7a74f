"""The Bot API stand-in answers aiogram as Telegram would, and refuses what Telegram refuses."""

from __future__ import annotations

import aiohttp
import pytest
from aiogram import Bot
from aiogram.enums import ChatAction
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)

from sandbox.telegram_api import RunningTelegram
from sandbox.telegram_state import TelegramState
from tests.sandbox.conftest import make_bot


def rating_keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=d, callback_data=d) for d in data]]
    )


async def test_get_me_describes_the_bot(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456789, True, "okrate_sandbox_bot")


async def test_a_wrong_token_is_unauthorized(tg: RunningTelegram) -> None:
    stranger = make_bot(tg, token="123456789:WRONG")
    try:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await stranger.get_me()
    finally:
        await stranger.session.close()
    assert tg.state.calls[-1].status == 401


async def test_send_message_returns_a_real_message_and_shows_in_the_chat(
    bot: Bot, tg: RunningTelegram
) -> None:
    alice = tg.state.user(1001, "Алиса")
    sent = await bot.send_message(
        alice.id, "Заявка <b>#7</b> решена", parse_mode="HTML", reply_markup=rating_keyboard("5")
    )
    assert sent.from_user is not None and sent.from_user.id == 123456789
    assert sent.chat.id == alice.id and sent.chat.type == "private"
    assert sent.text == "Заявка #7 решена"
    assert sent.entities is not None and sent.entities[0].type == "bold"
    assert sent.reply_markup is not None
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "5"
    [shown] = alice.transcript()
    assert (shown.sender, shown.text, shown.button_texts) == ("bot", "Заявка #7 решена", ["5"])


async def test_method_names_are_case_insensitive_and_json_get_and_form_all_work(
    tg: RunningTelegram, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        tg.method_url("SENDMESSAGE"),
        json={
            "chat_id": 5,
            "text": "json",
            "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "a"}]]},
        },
    ) as resp:
        assert resp.status == 200 and (await resp.json())["result"]["text"] == "json"
    tg.state.clock.advance(1)  # type: ignore[attr-defined]
    async with http.get(
        tg.method_url("sendmessage"), params={"chat_id": "5", "text": "get"}
    ) as resp:
        assert (await resp.json())["result"]["text"] == "get"
    tg.state.clock.advance(1)  # type: ignore[attr-defined]
    form = aiohttp.FormData({"chat_id": "5", "text": "multipart"})
    form.add_field("reply_markup", '{"remove_keyboard": true}')
    form.add_field("ignored", b"bytes", filename="f.bin")  # forces multipart/form-data
    async with http.post(tg.method_url("sendMessage"), data=form) as resp:
        assert (await resp.json())["result"]["text"] == "multipart"
    assert [e.text for e in tg.state.transcript(5)] == ["json", "get", "multipart"]


async def test_an_unknown_method_is_404(tg: RunningTelegram, http: aiohttp.ClientSession) -> None:
    async with http.post(tg.method_url("sendTelepathy")) as resp:
        assert resp.status == 404
        assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_an_unknown_method_reaches_aiogram_as_not_found(
    bot: Bot, tg: RunningTelegram
) -> None:
    tg.state.faults.fail_next(1, 404)
    with pytest.raises(TelegramNotFound):
        await bot.get_me()


async def test_html_that_telegram_cannot_parse_is_refused(bot: Bot, tg: RunningTelegram) -> None:
    with pytest.raises(TelegramBadRequest, match=r"can't parse entities: Unsupported start tag"):
        await bot.send_message(1001, "Принтер <HP> не печатает", parse_mode="HTML")
    with pytest.raises(
        TelegramBadRequest, match=r"can't parse entities: Unsupported start tag \"br\""
    ):
        await bot.send_message(1001, "строка<br>строка", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="can't parse entities: Can't find end tag"):
        await bot.send_message(1001, "<b>Оцените", parse_mode="HTML")
    assert tg.state.transcript(1001) == []


async def test_callback_data_over_64_bytes_is_button_data_invalid(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(1, "rate", reply_markup=rating_keyboard("ж" * 33))  # 66 bytes
    sent = await bot.send_message(1, "rate", reply_markup=rating_keyboard("ж" * 32))  # 64 bytes
    assert sent.message_id == 1


async def test_empty_and_too_long_texts_are_refused(bot: Bot, tg: RunningTelegram) -> None:
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(1, "  <b> </b>  ", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(1, "x" * 4097)


async def test_an_edit_replaces_text_and_buttons_as_the_user_sees_them(
    bot: Bot, tg: RunningTelegram, clock
) -> None:
    alice = tg.state.user(1001)
    sent = await bot.send_message(alice.id, "Оцените", reply_markup=rating_keyboard("1", "5"))
    edited = await bot.edit_message_text(
        "Спасибо, <i>5</i>!", chat_id=alice.id, message_id=sent.message_id, parse_mode="HTML"
    )
    assert edited.edit_date is not None and edited.text == "Спасибо, 5!"
    [shown] = alice.transcript()
    assert (shown.text, shown.buttons, shown.edited) == ("Спасибо, 5!", (), True)
    assert shown.previous_texts == ("Оцените",)


async def test_an_edit_that_changes_nothing_is_not_modified(bot: Bot) -> None:
    sent = await bot.send_message(1, "Оцените", reply_markup=rating_keyboard("5"))
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Оцените", chat_id=1, message_id=sent.message_id, reply_markup=rating_keyboard("5")
        )
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=1, message_id=sent.message_id, reply_markup=rating_keyboard("5")
        )
    removed = await bot.edit_message_reply_markup(chat_id=1, message_id=sent.message_id)
    assert removed.reply_markup is None  # type: ignore[union-attr]


async def test_editing_a_message_that_does_not_exist_is_refused(bot: Bot) -> None:
    await bot.send_message(1, "one")
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("two", chat_id=1, message_id=99)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_reply_markup(
            chat_id=1, message_id=99, reply_markup=rating_keyboard("5")
        )


async def test_the_bot_cannot_edit_what_the_user_wrote(bot: Bot, tg: RunningTelegram) -> None:
    alice = tg.state.user(1001)
    update = alice.send("hello")
    assert update is not None
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text(
            "hi", chat_id=alice.id, message_id=update["message"]["message_id"]
        )


async def test_a_chat_that_blocked_the_bot_is_forbidden(bot: Bot, tg: RunningTelegram) -> None:
    alice = tg.state.user(1001)
    alice.block_bot()
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(alice.id, "Оцените")
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_chat_action(alice.id, ChatAction.TYPING)
    assert alice.transcript() == []


async def test_strict_chats_forbid_writing_first(clock) -> None:
    from sandbox.telegram_api import running_telegram

    async with running_telegram(TelegramState(clock=clock, strict_chats=True)) as tg:
        bot = make_bot(tg)
        try:
            with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
                await bot.send_message(1001, "Оцените")
            with pytest.raises(TelegramBadRequest, match="chat not found"):
                await bot.send_message(-5, "Оцените")
            tg.state.user(1001).command("start")
            assert (await bot.send_message(1001, "Оцените")).chat.id == 1001
        finally:
            await bot.session.close()


async def test_chat_actions_and_commands(bot: Bot) -> None:
    assert await bot.send_chat_action(1, ChatAction.TYPING) is True
    with pytest.raises(TelegramBadRequest, match="wrong parameter action"):
        await bot.send_chat_action(1, "dancing")  # type: ignore[arg-type]
    from aiogram.types import BotCommand

    assert await bot.set_my_commands([BotCommand(command="start", description="Начать")])
    assert [c.command for c in await bot.get_my_commands()] == ["start"]


async def test_a_reply_keyboard_is_shown_until_removed(
    bot: Bot, tg: RunningTelegram, clock
) -> None:
    alice = tg.state.user(1001, phone_number="79161234567")
    keyboard = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="Поделиться номером", request_contact=True)]],
        one_time_keyboard=True,
    )
    sent = await bot.send_message(alice.id, "Номер?", reply_markup=keyboard)
    assert sent.reply_markup is None  # Telegram echoes inline keyboards only
    assert tg.state.chats[alice.id].reply_keyboard is not None
    alice.share_contact()
    assert tg.state.chats[alice.id].reply_keyboard is None  # one-time keyboard hides
