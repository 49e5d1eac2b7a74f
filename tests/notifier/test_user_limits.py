"""Per-user limits through the stand-ins (real broker): an eleventh issue in a day is refused and
nothing reaches Okdesk, also after a restart; the next day it is allowed. A sixth phone in an
hour is not searched in Okdesk; a reason longer than allowed is not passed on. The clock is
injected (Tuning.clock): nobody waits a day."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from notifier.health import metrics_text
from notifier.telegram.limits import next_local_midnight
from schemas.codec import decode
from schemas.records import ReasonGiven
from schemas.topics import RATING_RECEIVED
from tests.kafka_helpers import read_topic
from tests.notifier.conftest import FAST, recorded, request, running_notifier
from tests.notifier.helpers import said
from tests.notifier.test_new_issue_and_reasons import feed_link


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def zone_at_noon(now: datetime) -> str:
    """A fixed-offset zone where it is about noon now, so that no real midnight falls in the test
    (the intents are stamped with the real time)."""
    offset = max(-12, min(14, 12 - now.hour))
    return f"Etc/GMT{-offset:+d}" if offset else "UTC"


def metric(text: str, limit: str) -> float:
    line = next(x for x in text.splitlines() if x.startswith(f'okrate_notifier_limited_total{{limit="{limit}"}}'))
    return float(line.rsplit(" ", 1)[1])


async def test_an_eleventh_issue_in_a_day_is_refused_without_reaching_okdesk_and_allowed_the_next_day(
        kafka_bootstrap, nsettings, tg, okdesk):
    clock = Clock()
    zone = zone_at_noon(clock.now)
    settings = nsettings(stats_timezone=zone, telegram_max_per_chat_per_second=20.0)
    assert settings.bot_new_issues_per_day == 10  # the default
    od = okdesk.state
    od.add_contact("Анна", id=95)
    feed_link(settings, kafka_bootstrap, "95", 1601)
    state = tg.state
    user = state.user(1601, "Анна")
    tuning = replace(FAST, clock=clock)

    async def ask_for_a_new_issue(n: int) -> None:
        user.command("new")
        await said(state, user, "Опишите, пожалуйста", count=n)

    async with running_notifier(settings, kafka_bootstrap, tuning) as notifier:
        for n in range(1, 11):
            await ask_for_a_new_issue(n)
            user.send(f"Проблема номер {n}")
            await said(state, user, "создана", count=n, within=30)
        assert len(od.calls_to("create_issue")) == 10
        user.command("new")
        [refusal] = await said(state, user, "не больше 10 заявок в день")
        tomorrow = next_local_midnight(clock.now, zone).astimezone(ZoneInfo(zone))
        assert f"{tomorrow:%d.%m.%Y} с 00:00" in refusal.text, refusal.text  # when they can again
        assert metric(metrics_text(notifier).decode(), "new_issues_per_day") == 1
    assert len(od.calls_to("create_issue")) == 10

    # A restart does not reset the day: the count is the intent log's, read back on start.
    async with running_notifier(settings, kafka_bootstrap, tuning):
        user.command("new")
        await said(state, user, "не больше 10 заявок в день", count=2, within=30)
        assert len(od.calls_to("create_issue")) == 10

        # The next day (the service desk's): allowed again.
        clock.now = next_local_midnight(clock.now, zone) + timedelta(seconds=1)
        await ask_for_a_new_issue(11)
        user.send("Проблема назавтра")
        await said(state, user, "создана", count=11, within=30)
    assert len(od.calls_to("create_issue")) == 11
    assert sum("не больше 10 заявок" in (m.text or "") for m in user.bot_messages()) == 2


async def test_a_sixth_phone_in_an_hour_is_not_searched_in_okdesk(kafka_bootstrap, nsettings, tg, okdesk):
    clock = Clock()
    settings = nsettings(telegram_max_per_chat_per_second=20.0)
    assert settings.bot_phone_links_per_hour == 5  # the default
    state = tg.state
    user = state.user(1701, "Незнакомец", phone_number="79169999999")
    od = okdesk.state
    first_try = clock.now
    async with running_notifier(settings, kafka_bootstrap, replace(FAST, clock=clock)):
        for n in range(1, 6):
            user.send_contact("+79169999999", "Незнакомец", user_id=1701)  # their own card
            await said(state, user, "Мы не нашли контакт", count=n, within=20)
            clock.now += timedelta(minutes=1)
        searches = len(od.calls_to("find_contact"))
        user.send_contact("+79169999999", "Незнакомец", user_id=1701)  # their own card
        [refusal] = await said(state, user, "Слишком много попыток", within=20)
        again = (first_try + timedelta(hours=1)).astimezone(ZoneInfo(settings.stats_timezone))
        assert f"после {again:%H:%M}" in refusal.text, refusal.text  # when the first try leaves the hour
        assert len(od.calls_to("find_contact")) == searches  # nothing asked of Okdesk

        clock.now += timedelta(hours=1)
        user.send_contact("+79169999999", "Незнакомец", user_id=1701)  # their own card
        await said(state, user, "Мы не нашли контакт", count=6, within=20)
        assert len(od.calls_to("find_contact")) > searches


async def test_a_reason_longer_than_allowed_is_not_passed_on(kafka_bootstrap, nsettings, tg, feed):
    settings = nsettings(bot_reason_max_chars=50)
    state = tg.state
    user = state.user(1801, "Вера")
    req = request(1390, user=1801)
    async with running_notifier(settings, kafka_bootstrap) as notifier:
        f = feed(settings)
        f.requested(req)
        [message] = await state.wait_until(lambda: user.bot_messages(), within=15)
        f.decided(recorded(req, 2, message_id=message.message_id, update_id=7))
        await said(state, user, "Что пошло не так?", within=20)
        for _ in range(100):  # the step is entered once the question's send is confirmed
            if notifier.state.step(1801) == "awaiting_reason":
                break
            await asyncio.sleep(0.1)
        assert notifier.state.step(1801) == "awaiting_reason"
        user.send("x" * 51)
        await said(state, user, "не больше 50 символов", within=20)
        user.send("Ждали три дня")

        async def given():
            records = await asyncio.to_thread(read_topic, kafka_bootstrap, RATING_RECEIVED.full_name(settings))
            texts = [decode(r.value) for r in records]
            return [t.text for t in texts if isinstance(t, ReasonGiven) and t.reason_code is None]

        for _ in range(100):
            if await given():
                break
            await asyncio.sleep(0.2)
        assert await given() == ["Ждали три дня"]
