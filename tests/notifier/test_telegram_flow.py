"""Notifier I, as the client sees it in Telegram (real broker, the Bot API stand-in)."""

from __future__ import annotations

import json

from notifier.service import group_id
from schemas.callback_data import rating_data
from schemas.codec import decode
from schemas.records import SideEffectOutcome, TelegramUpdateEnvelope
from schemas.topics import RATING_REQUESTED, TELEGRAM_UPDATES
from tests.kafka_helpers import caught_up, read_topic
from tests.notifier.conftest import outcomes_async, recorded, rejected, request, running_notifier

LABELS = ["⭐⭐⭐⭐⭐ Отлично (5)", "⭐⭐⭐⭐ Хорошо (4)", "⭐⭐⭐ Нормально (3)", "⭐⭐ Плохо (2)", "⭐ Ужасно (1)"]


async def test_request_press_and_decision(kafka_bootstrap, nsettings, feed, tg, okdesk):
    settings = nsettings(telegram_press_answer_wait="8s")  # the decision is fed by hand, below
    okdesk.state.add_issue("Принтер", id=1380, status="completed")
    state = tg.state
    user = state.user(501, "Анна")
    req = request(1380, user=501, title="Принтер <HP> & сканер")
    async with running_notifier(settings, kafka_bootstrap) as notifier:
        feed(settings).requested(req)
        first = await state.wait_until(lambda: user.bot_messages(), within=15)
        message = first[0]
        assert message.button_texts == LABELS
        assert [b.callback_data for row in message.buttons for b in row] == [
            rating_data(req.request_id, s) for s in (5, 4, 3, 2, 1)]
        assert "№1380" in message.text and "Принтер <HP> & сканер" in message.text
        assert "Решена" in message.text
        send = state.calls_to("sendMessage")[0]
        assert 'href="https://acme.okdesk.ru/issues/1380"' in send.params["text"]

        update = user.press(text="⭐⭐⭐⭐ Хорошо (4)")
        again = user.press(text="⭐⭐⭐⭐⭐ Отлично (5)")  # a second tap before the buttons are gone
        query_id, again_id = update["callback_query"]["id"], again["callback_query"]["id"]
        await state.wait_until(lambda: notifier.presses.waiting == 2, within=10)
        assert state.callback_queries[query_id].answered_at is None  # the spinner waits for the decision

    # the press is in telegram.updates, raw (the streams would decide on it)
        raw = [decode(r.value) for r in read_topic(kafka_bootstrap, TELEGRAM_UPDATES.full_name(settings))]
        assert [e.update_id for e in raw if isinstance(e, TelegramUpdateEnvelope)] == [update["update_id"],
                                                                                       again["update_id"]]

        feed(settings).decided(recorded(req, 4, message_id=message.message_id, update_id=update["update_id"]))
        await state.wait_until(lambda: all(state.callback_queries[q].answered_at for q in (query_id, again_id)),
                               within=10)
        assert state.callback_queries[query_id].answer_text == "Оценка ⭐⭐⭐⭐ (4) учтена. Спасибо!"
        # the second tap is told the score that stands, from what the notifier knows: no
        # decision on it was fed (the streams would refuse it as already rated)
        assert state.callback_queries[again_id].answer_text == "Заявка уже оценена: ⭐⭐⭐⭐ (4)."
        assert notifier.callbacks.answers == {"decided": 1, "known": 1}
        await state.wait_until(lambda: len(user.bot_messages()) == 2 and user.bot_messages()[0].edited, within=10)
        edited, thanks = user.bot_messages()
        assert edited.buttons == ()  # the rating buttons are gone
        assert "⭐⭐⭐⭐ Хорошо (4)" in edited.text
        assert "Принтер <HP> & сканер" in edited.text
        assert "Спасибо" in thanks.text
        assert thanks.button_texts == ["Создать новую заявку"]

    statuses = [(o.kind, o.status) for o in await outcomes_async(kafka_bootstrap, settings)
                if isinstance(o, SideEffectOutcome)]
    assert sorted(statuses) == sorted([("telegram.send_request", "ok"), ("telegram.show_decision", "ok"),
                                       ("telegram.show_decision", "ok"), ("okdesk.comment", "ok"),
                                       ("okdesk.rate", "ok")])


REJECTIONS = {
    "already_rated": "уже оценена: ⭐⭐⭐ (3)",
    "expired": "время для оценки этой заявки истекло",
    "outdated": "прошлому решению",
    "not_yours": "только тот, кому адресован",
    "invalid": "Не удалось распознать",
    "unknown": "не нашли этот запрос",
    "deleted": "Заявка удалена",
    "reopened": "снова открыта",
    "unlinked": "больше не связан",
    "rated_in_portal": "на портале",
}


async def test_every_rejection_reason_is_explained(kafka_bootstrap, nsettings, feed, tg):
    settings = nsettings(telegram_max_per_chat_per_second=20.0)
    state = tg.state
    state.limits.per_chat_per_second = 20
    user = state.user(502, "Борис")
    req = request(1400, user=502)
    async with running_notifier(settings, kafka_bootstrap):
        f = feed(settings)
        f.requested(req)
        first = (await state.wait_until(lambda: user.bot_messages(), within=15))[0]
        f.decided(*[rejected(req, reason, message_id=first.message_id, update_id=100 + i,
                             standing=3 if reason == "already_rated" else None)
                    for i, reason in enumerate(REJECTIONS)])
        await state.wait_until(lambda: len(user.bot_messages()) == 1 + len(REJECTIONS), within=20)
    replies = [m.text for m in user.bot_messages()[1:]]
    for reason, phrase in REJECTIONS.items():
        assert sum(phrase in text for text in replies) == 1, (reason, replies)
    assert user.bot_messages()[0].buttons  # a rejection leaves the request as it was


async def test_a_press_with_no_decision_in_time_is_answered_with_a_word_that_promises_nothing(
        kafka_bootstrap, nsettings, feed, tg):
    settings = nsettings(telegram_press_answer_wait="200ms")
    state = tg.state
    user = state.user(506)
    req = request(1410, user=506)
    async with running_notifier(settings, kafka_bootstrap) as notifier:
        feed(settings).requested(req)
        await state.wait_until(lambda: user.bot_messages(), within=15)
        query_id = user.press(text="⭐⭐ Плохо (2)")["callback_query"]["id"]  # no streams here: no decision
        await state.wait_until(lambda: state.callback_queries[query_id].answered_at, within=10)
        assert state.callback_queries[query_id].answer_text == "Нажатие получено"
        assert notifier.callbacks.answers == {"neutral": 1}


async def test_reminder_expiry_and_closing(kafka_bootstrap, nsettings, feed, tg):
    from schemas.records import RatingClosed, RatingExpired, RatingReminder

    settings = nsettings(telegram_max_per_chat_per_second=20.0)
    state = tg.state
    state.limits.per_chat_per_second = 20
    user = state.user(503)
    a, b = request(1500, 1, user=503), request(1501, 2, user=503)
    async with running_notifier(settings, kafka_bootstrap):
        f = feed(settings)
        f.requested(a, b)
        await state.wait_until(lambda: len(user.bot_messages()) == 2, within=15)
        f.requested(RatingReminder(event_id="rem", request_id=a.request_id, issue_id=a.issue_id,
                                   reminded_at=T0, recipient_user_id=503, recipient_chat_id=503))
        await state.wait_until(lambda: len(user.bot_messages()) == 3, within=10)
        f.requested(RatingExpired(event_id="exp", request_id=a.request_id, issue_id=a.issue_id, expired_at=T0),
                    RatingClosed(event_id="cl", request_id=b.request_id, issue_id=b.issue_id,
                                 reason="reopened", closed_at=T0))
        await state.wait_until(lambda: all(m.edited for m in user.bot_messages()[:2]), within=10)
    first, second, reminder = user.bot_messages()
    assert "истекло" in first.text and first.buttons == ()
    assert "снова открыта" in second.text and second.buttons == ()
    assert "Напоминаем" in reminder.text and "1500" in reminder.text
    reply = state.calls_to("sendMessage")[2].params
    replied_to = json.loads(reply["reply_parameters"])["message_id"] if "reply_parameters" in reply \
        else int(reply["reply_to_message_id"])
    assert replied_to == first.message_id  # the reminder answers the request it is about


async def test_a_redelivered_request_is_not_sent_twice_but_a_readdressed_one_is(kafka_bootstrap, nsettings, feed, tg):
    settings = nsettings()
    state = tg.state
    req = request(1600, user=504)
    async with running_notifier(settings, kafka_bootstrap):
        f = feed(settings)
        f.requested(req)
        await state.wait_until(lambda: state.user(504).bot_messages(), within=15)
    async with running_notifier(settings, kafka_bootstrap):
        from dataclasses import replace

        f.requested(req, replace(req, event_id="again"), replace(req, event_id="late-link", recipient_user_id=505,
                                                                 recipient_chat_id=505))
        await state.wait_until(lambda: state.user(505).bot_messages(), within=15)
        # the notifier has read every one of the three to the topic's end (and committed it)
        await caught_up(kafka_bootstrap, group_id(settings, "requests"), {RATING_REQUESTED.full_name(settings)})
    assert len(state.user(504).bot_messages()) == 1
    assert len(state.user(505).bot_messages()) == 1


from tests.notifier.conftest import T0  # noqa: E402
