"""Telegram's pace: 429s honoured, blocked chats given up on, one busy chat holding up nobody."""

from __future__ import annotations

from schemas.records import SideEffectOutcome
from tests.notifier.conftest import outcomes_async, request, running_notifier


async def test_a_429_storm_is_waited_out_and_nothing_is_lost(kafka_bootstrap, nsettings, feed, tg):
    settings = nsettings()
    state = tg.state
    state.faults.rate_limit_next(6, retry_after=1, methods=["sendMessage"])
    reqs = [request(2000 + i, i, user=610 + i) for i in range(4)]
    async with running_notifier(settings, kafka_bootstrap):
        feed(settings).requested(*reqs)
        await state.wait_until(lambda: all(state.user(610 + i).bot_messages() for i in range(4)), within=20)
    assert [len(state.user(610 + i).bot_messages()) for i in range(4)] == [1, 1, 1, 1]
    assert sum(c.status == 429 for c in state.calls_to("sendMessage")) == 6
    sent = [o for o in await outcomes_async(kafka_bootstrap, settings) if isinstance(o, SideEffectOutcome)]
    assert sorted(o.status for o in sent) == ["ok"] * 4


async def test_blocked_and_never_started_chats_are_undeliverable_not_retried(kafka_bootstrap, nsettings, feed, tg):
    settings = nsettings()
    state = tg.state
    state.strict_chats = True
    blocked, fine = state.user(621), state.user(623)
    blocked.send("/start")
    fine.send("/start")
    blocked.block_bot()
    async with running_notifier(settings, kafka_bootstrap):
        feed(settings).requested(request(2101, user=621), request(2102, user=622), request(2103, user=623))
        await state.wait_until(lambda: fine.bot_messages(), within=15)
        sent = await _wait_outcomes(kafka_bootstrap, settings, 3)
    by_chat = {o.recipient_chat_id: o for o in sent}
    assert by_chat[621].status == "undeliverable" and "blocked" in by_chat[621].error
    assert by_chat[622].status == "undeliverable" and by_chat[622].http_status == 403
    assert by_chat[623].status == "ok"
    # one try each: 403 is not retried (the bot's answers to the users' /start are not counted)
    assert len([c for c in state.calls_to("sendMessage") if "Заявка №" in c.params["text"]]) == 3


async def test_a_backlog_to_one_chat_delays_neither_another_chat_nor_callback_answers(kafka_bootstrap, nsettings, feed, tg):
    settings = nsettings(telegram_press_answer_wait="0s")  # no streams here: no decision to wait for
    state = tg.state
    busy, other = state.user(631), state.user(632)
    async with running_notifier(settings, kafka_bootstrap):
        f = feed(settings)
        f.requested(request(2200, 0, user=632))
        await state.wait_until(lambda: other.bot_messages(), within=15)
        f.requested(*[request(2201 + i, i, user=631) for i in range(8)])
        await state.wait_until(lambda: busy.bot_messages(), within=10)
        f.requested(request(2300, 1, user=632))
        update = other.press(text="⭐⭐⭐⭐⭐ Отлично (5)")
        query = state.callback_queries[update["callback_query"]["id"]]
        await state.wait_until(lambda: len(other.bot_messages()) == 2 and query.answered_at, within=5)
        assert len(busy.bot_messages()) < 8  # the backlog is still draining: it held up neither
        await state.wait_until(lambda: len(busy.bot_messages()) == 8, within=15)
    # Telegram's pace for one chat was kept: the stand-in, which refuses a faster one with 429 as
    # Telegram does, refused nothing (the gaps themselves are a figure of `make bench`)
    assert not [c for c in state.calls_to("sendMessage") if c.status == 429]


async def _wait_outcomes(bootstrap, settings, count):
    import asyncio

    for _ in range(60):
        sent = [o for o in await outcomes_async(bootstrap, settings) if isinstance(o, SideEffectOutcome)]
        if len(sent) >= count:
            return sent
        await asyncio.sleep(0.3)
    raise AssertionError(f"only {len(sent)} outcomes")
