"""Replays never touch a client or Okdesk a second time: after a whole resolve → message → press →
comment loop, rewinding the live streams application to the beginning of the raw topics decides
everything again, and the notifier sends, edits and writes nothing more."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from base.links import link_record
from notifier.service import group_id
from okrate import replay
from schemas.callback_data import rating_data
from schemas.topics import CONTACT_LINKS, RATING_RECORDED, RATING_REQUESTED
from tests.integration.test_streams_requests import okdesk_status
from tests.kafka_helpers import caught_up, raw_topics
from tests.notifier.conftest import FAST, running_notifier
from tests.streams_harness import Feeder, running_streams

WRITES = ("sendmessage", "editmessagetext", "editmessagereplymarkup")


def telegram_writes(tg) -> int:
    return sum(len(tg.state.calls_to(method)) for method in WRITES)


async def until(predicate, timeout=60.0):
    for _ in range(int(timeout / 0.25)):
        if predicate():
            return
        await asyncio.sleep(0.25)
    raise AssertionError("timed out")


async def notifier_caught_up(bootstrap: str, settings) -> None:
    for role, spec in (("requests", RATING_REQUESTED), ("decisions", RATING_RECORDED)):
        await caught_up(bootstrap, group_id(settings, role), {spec.full_name(settings)})


async def test_a_rewind_sends_nothing(nsettings, tg, okdesk, kafka_bootstrap, tmp_path, unique_id):
    settings = nsettings(streams_app_id=f"okrate-replay-{unique_id}")
    okdesk.state.add_issue("Не печатает принтер", contact_id=None, id=1380)
    feed = Feeder(settings, kafka_bootstrap)
    feed.record(CONTACT_LINKS, "95", link_record("95", "linked", "operator", 555))
    feed.webhook("1380", okdesk_status(1380, "completed", "opened"))
    client = tg.state.user(555, "Иван")

    async with running_notifier(settings, kafka_bootstrap, FAST):
        async with running_streams(settings, kafka_bootstrap, tmp_path / "live", app_id=settings.streams_app_id):
            await until(lambda: any(m.buttons for m in client.bot_messages()))
            request_id = next(b.callback_data for m in client.bot_messages() for row in m.buttons for b in row).split(":")[1]
            client.press(data=rating_data(request_id, 4))
            await until(lambda: okdesk.state.comments_of(1380) and okdesk.state.issues[1380].rate)
            await until(lambda: len(client.bot_messages()) >= 2)
            await notifier_caught_up(kafka_bootstrap, settings)
        writes, comments = telegram_writes(tg), len(okdesk.state.comments_of(1380))
        assert comments == 1 and okdesk.state.issues[1380].rate == "good"

        rereads = await asyncio.to_thread(replay.rewind, settings, kafka_bootstrap, from_time=datetime(2020, 1, 1, tzinfo=UTC))
        assert sum(rereads.values()) >= 2  # the webhook and the press
        async with running_streams(settings, kafka_bootstrap, tmp_path / "again", app_id=settings.streams_app_id):
            # the replay happened: the application read its inputs again, to their ends; and the
            # notifier read whatever it wrote, to the ends of its topics
            await caught_up(kafka_bootstrap, settings.streams_app_id, raw_topics(settings), own=False)
            await notifier_caught_up(kafka_bootstrap, settings)
        # ... and no side effect followed
        assert telegram_writes(tg) == writes
        assert len(okdesk.state.comments_of(1380)) == 1
        assert len(okdesk.state.calls_to("rate_issue")) == 1
