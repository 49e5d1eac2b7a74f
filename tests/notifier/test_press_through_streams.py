"""A real press through the real broker and the streams, to what the user sees: the toast on the
button (the press's answer) and the message in the chat, for a rating taken and for presses the
streams refuse (already rated, not yours, expired)."""

from __future__ import annotations

from sandbox.telegram_user import SandboxUser
from schemas.callback_data import rating_data
from schemas.topics import CONTACT_LINKS
from tests.integration.test_streams_requests import link, okdesk_status
from tests.notifier.conftest import running_notifier
from tests.streams_harness import Feeder, running_streams

ANNA, BORIS = 501, 502


def tap(user: SandboxUser, message_id: int, data: str) -> str:
    """A press on a message whatever its keyboard shows now: a client whose keyboard is stale (the
    edit not synced yet) or a modified client; Telegram delivers any callback data. The query id."""
    stored = user.state.chats[user.id].messages[message_id]
    return user._press(stored, data)["callback_query"]["id"]


def now_shown(user: SandboxUser, message_id: int):
    return next(m for m in user.bot_messages() if m.message_id == message_id)


async def _rating_message(state, user, issue: int):
    messages = await state.wait_until(lambda: [m for m in user.bot_messages() if f"№{issue}" in m.text], within=30)
    return messages[0]


def rating_comments(okdesk, issue: int) -> list[str]:
    return [c.content for c in okdesk.state.comments_of(issue) if "Оценка клиента" in c.content]


async def test_a_press_taken_then_refused_as_already_rated_and_as_not_yours(
        kafka_bootstrap, nsettings, tg, okdesk, data_dir):
    settings = nsettings(telegram_press_answer_wait="8s", rating_remind_after="off")
    okdesk.state.add_issue("Issue 1380", id=1380, contact_id=95, status="completed")
    state = tg.state
    anna, boris = state.user(ANNA, "Анна"), state.user(BORIS, "Борис")
    feed = Feeder(settings, kafka_bootstrap)
    feed.record(CONTACT_LINKS, "95", link("95", ANNA))
    async with running_streams(settings, kafka_bootstrap, data_dir), \
            running_notifier(settings, kafka_bootstrap) as notifier:
        feed.webhook("1380", okdesk_status(1380, "completed", "opened"))
        message = await _rating_message(state, anna, 1380)
        request_id = message.buttons[0][0].callback_data.split(":")[1]

        taken = anna.press(text="⭐⭐⭐⭐ Хорошо (4)")["callback_query"]["id"]
        await state.wait_until(lambda: state.callback_queries[taken].answered_at, within=30)
        assert state.callback_queries[taken].answer_text == "Оценка ⭐⭐⭐⭐ (4) учтена. Спасибо!"
        await state.wait_until(lambda: now_shown(anna, message.message_id).edited
                               and any("Спасибо за оценку" in m.text for m in anna.bot_messages()), within=30)
        assert "⭐⭐⭐⭐ Хорошо (4)" in now_shown(anna, message.message_id).text

        # Anna taps «5» on her stale keyboard: told at once the score that stands, and the
        # streams' refusal is explained in the chat, in reply to the request.
        again = tap(anna, message.message_id, rating_data(request_id, 5))
        await state.wait_until(lambda: state.callback_queries[again].answered_at, within=30)
        assert state.callback_queries[again].answer_text == "Заявка уже оценена: ⭐⭐⭐⭐ (4)."
        [reply] = await state.wait_until(
            lambda: [m for m in anna.bot_messages() if "Эта заявка уже оценена" in m.text], within=30)
        assert reply.text == "Эта заявка уже оценена: ⭐⭐⭐⭐ (4). Спасибо!"

        # Boris sends Anna's button data from his own chat: not his to rate.
        boris.send("/start")
        [hello] = await state.wait_until(lambda: boris.bot_messages(), within=30)
        forged = tap(boris, hello.message_id, rating_data(request_id, 1))
        await state.wait_until(lambda: state.callback_queries[forged].answered_at, within=30)
        assert state.callback_queries[forged].answer_text == "Оценить заявку может только тот, кому адресован запрос."
        [refusal] = await state.wait_until(
            lambda: [m for m in boris.bot_messages() if "адресован" in m.text], within=30)
        assert refusal.text == "Оценить заявку может только тот, кому адресован запрос."
        assert notifier.callbacks.answers["neutral"] == 0
        # what stands: Anna's 4, once; nothing else was written to the issue
        await state.wait_until(lambda: okdesk.state.issues[1380].rate, within=30)
    [comment] = rating_comments(okdesk, 1380)
    assert "<b>4 — Хорошо</b>" in comment and okdesk.state.issues[1380].rate == "good"


async def test_a_press_after_the_request_expired_is_refused_as_expired(
        kafka_bootstrap, nsettings, tg, okdesk, data_dir):
    settings = nsettings(telegram_press_answer_wait="8s", rating_remind_after="off", rating_expiry="3s")
    okdesk.state.add_issue("Issue 1390", id=1390, contact_id=95, status="completed")
    state = tg.state
    anna = state.user(ANNA, "Анна")
    feed = Feeder(settings, kafka_bootstrap)
    feed.record(CONTACT_LINKS, "95", link("95", ANNA))
    async with running_streams(settings, kafka_bootstrap, data_dir), running_notifier(settings, kafka_bootstrap):
        feed.webhook("1390", okdesk_status(1390, "completed", "opened"))
        message = await _rating_message(state, anna, 1390)
        request_id = message.buttons[0][0].callback_data.split(":")[1]
        # the streams' clock expires the request (it moves on while the inputs are idle)
        await state.wait_until(lambda: "истекло" in now_shown(anna, message.message_id).text, within=60)
        assert now_shown(anna, message.message_id).buttons == ()
        late = tap(anna, message.message_id, rating_data(request_id, 5))
        await state.wait_until(lambda: state.callback_queries[late].answered_at, within=30)
        assert state.callback_queries[late].answer_text == "Время для оценки этой заявки истекло."
        [reply] = await state.wait_until(
            lambda: [m for m in anna.bot_messages() if m.message_id != message.message_id], within=30)
        assert reply.text == "К сожалению, время для оценки этой заявки истекло."
    assert rating_comments(okdesk, 1390) == [] and okdesk.state.issues[1390].rate is None
