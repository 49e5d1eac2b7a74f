"""Notifier V: the client's language, texts the service desk can edit, and quiet hours
(real broker, the stand-ins)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from notifier.service import serve
from schemas.records import SideEffectIntent, SideEffectOutcome, utc_now
from tests.notifier.conftest import FAST, outcomes_async, recorded, request, running_notifier
from tests.notifier.helpers import said


async def test_english_speakers_get_english_and_an_overridden_text_is_used(kafka_bootstrap, nsettings, feed, tg,
                                                                            tmp_path):
    (tmp_path / "ru.json").write_text(
        '{\n  "start.intro": "Добрый день! Это бот ООО «Ромашка». Нажмите кнопку внизу."\n}', encoding="utf-8")
    settings = nsettings(bot_texts_dir=str(tmp_path))
    state = tg.state
    english = state.user(1601, "John", language_code="en")
    russian = state.user(1602, "Иван", language_code="ru")
    async with running_notifier(settings, kafka_bootstrap):
        english.command("start")
        russian.command("start")
        await said(state, english, "Hello!")
        await said(state, russian, "Добрый день! Это бот ООО «Ромашка»")
        feed(settings).requested(request(7001, user=1601), request(7002, 2, user=1602))
        [asked] = await said(state, english, "Please rate")
        await said(state, russian, "Пожалуйста, оцените")
    assert asked.button_texts[0] == "⭐⭐⭐⭐⭐ Excellent (5)"
    assert "Share my phone number" in str(english.chat.reply_keyboard)
    assert "Поделиться номером" in str(russian.chat.reply_keyboard)  # the rest falls back to the shipped texts


async def test_bot_locale_en_is_everyones(kafka_bootstrap, nsettings, feed, tg):
    settings = nsettings(bot_locale="en")
    state = tg.state
    russian = state.user(1603, "Иван", language_code="ru")
    async with running_notifier(settings, kafka_bootstrap):
        russian.command("stop")
        await said(state, russian, "Your account is not linked")


async def test_a_malformed_override_is_reported_at_start_with_file_and_line(kafka_bootstrap, nsettings, tmp_path):
    (tmp_path / "en.json").write_text('{\n  "thanks.text": "Thanks",\n  "help.text": "Help" "me"\n}',
                                      encoding="utf-8")
    settings = nsettings(bot_texts_dir=str(tmp_path))
    with pytest.raises(SystemExit, match=r"en\.json: line 3"):
        await serve(settings, kafka_bootstrap)


class ManualClock:
    """What time it is for the notifier: set by the test, still until it is moved."""

    def __init__(self, now: datetime, zone: str = "Europe/Moscow"):
        self.now, self.zone = now, ZoneInfo(zone)

    @classmethod
    def at(cls, local: str, zone: str = "Europe/Moscow") -> ManualClock:
        clock = cls(utc_now(), zone)
        clock.move_to(local)
        return clock

    def move_to(self, local: str) -> None:
        """Today's `local` time (HH:MM:SS, in the clock's zone)."""
        today = utc_now().astimezone(self.zone).date()
        target = datetime.combine(today, datetime.strptime(local, "%H:%M:%S").time()).replace(tzinfo=self.zone)
        self.now = target.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_a_request_in_quiet_hours_waits_for_their_end_even_across_a_restart(
        kafka_bootstrap, nsettings, feed, tg):
    settings = nsettings(quiet_hours="22:00-09:00", stats_timezone="Europe/Moscow")
    clock = ManualClock.at("08:59:00")  # quiet; the test moves the clock past 09:00 itself
    tuning = replace(FAST, clock=clock, quiet_recheck=0.05)
    state = tg.state
    sleeper, awake = state.user(1701), state.user(1702)
    f = feed(settings)
    async with running_notifier(settings, kafka_bootstrap, tuning) as notifier:
        f.requested(request(7101, user=1701))
        f.decided(recorded(request(7102, 2, user=1702), 5, message_id=None))  # a decision goes at once
        await said(state, awake, "Спасибо за оценку", within=15)
        update = awake.press(text="Создать новую заявку")  # what the user starts is answered at any hour
        query = state.callback_queries[update["callback_query"]["id"]]
        await state.wait_until(lambda: query.answered_at, within=15)
        await said(state, awake, "свяжите аккаунт", within=15)
        await state.wait_until(lambda: notifier.scheduler.waiting == 1, within=15)
        for _ in range(100):
            records = await outcomes_async(kafka_bootstrap, settings)
            if any(isinstance(r, SideEffectIntent) and r.kind == "telegram.scheduled" for r in records):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the request in quiet hours was not scheduled (no telegram.scheduled intent)")
        assert sleeper.bot_messages() == []
    async with running_notifier(settings, kafka_bootstrap, tuning) as notifier:  # restarted while it is quiet
        await state.wait_until(lambda: notifier.scheduler.waiting == 1, within=15)  # held again, from the log
        assert sleeper.bot_messages() == []
        clock.move_to("09:00:00")  # the quiet hours end
        [message] = await said(state, sleeper, "№7101", within=15)
        await state.wait_until(lambda: notifier.scheduler.waiting == 0, within=15)
    assert len(sleeper.bot_messages()) == 1 and message.buttons
    outcomes = [r for r in await outcomes_async(kafka_bootstrap, settings) if isinstance(r, SideEffectOutcome)]
    assert [(o.kind, o.status) for o in outcomes if o.kind == "telegram.scheduled"] == [("telegram.scheduled", "ok")]
