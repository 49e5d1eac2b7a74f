"""Streams II through the real broker: presses as Telegram sends them become recorded ratings or
rejections; reminders and expiry by the streams' clock; a portal rating closes the request; a
reprocess of the same raw topics decides the same."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from datetime import timedelta

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from base.settings import load_settings
from base.topic_admin import ensure_topics
from sandbox.telegram_api import running_telegram
from schemas.callback_data import rating_data
from schemas.codec import decode
from schemas.records import (
    DeadLetter,
    PortalRatingRecorded,
    RatingClosed,
    RatingExpired,
    RatingRecorded,
    RatingRejected,
    RatingReminder,
    RatingRequested,
    utc_now,
)
from schemas.telegram_envelope import telegram_envelope
from schemas.topics import (
    CONTACT_LINKS,
    DEADLETTER,
    ISSUE_EVENTS,
    NOTIFIER_OUTCOMES,
    RATING_RECORDED,
    RATING_REQUESTED,
    TELEGRAM_UPDATES,
)
from tests.integration.test_stats import converged, expected_snapshots
from tests.integration.test_streams_requests import link, okdesk_status
from tests.kafka_helpers import caught_up, read_topic
from tests.streams_harness import Feeder, running_streams, wait_for

USER, STRANGER = 555, 777


def csat(issue: int, rate: str) -> bytes:
    return json.dumps({"event": {"event_type": "new_csat_rate", "author": {"id": "95", "type": "contact"}},
                       "issue": {"id": str(issue), "rate": rate, "client": {"contact": {"id": "95"}}}}).encode()


def requested_for(records, issue: str) -> RatingRequested | None:
    return next((r for r in records if isinstance(r, RatingRequested) and r.issue_id == issue and r.deliverable), None)


def decision_items(bootstrap: str, settings) -> list:
    items = []
    for spec in (ISSUE_EVENTS, RATING_REQUESTED, RATING_RECORDED, NOTIFIER_OUTCOMES):
        items += [(spec, r.key.decode(), decode(r.value)) for r in read_topic(bootstrap, spec.full_name(settings))]
    return items


def decided(records):
    return sorted((r.event_id, getattr(r, "score", None), getattr(r, "reason", None))
                  for r in records if isinstance(r, RatingRecorded | RatingRejected))


async def test_presses_reminders_expiry_portal_and_reprocess(settings_for, kafka_bootstrap, data_dir, tmp_path):
    settings = settings_for(rating_remind_after="24h", rating_expiry="7d")
    feed = Feeder(settings, kafka_bootstrap)
    feed.record(CONTACT_LINKS, "95", link("95", USER))
    for issue in (1380, 1381, 1382):
        feed.webhook(str(issue), okdesk_status(issue, "completed", "opened"))

    async with running_streams(settings, kafka_bootstrap, data_dir):
        requests = await wait_for(kafka_bootstrap, settings, RATING_REQUESTED,
                                  lambda rs: all(requested_for(rs, str(i)) for i in (1380, 1381, 1382)))
        request = requested_for(requests, "1380")

        async with running_telegram() as tg:
            bot = Bot(tg.token, session=AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url)))
            keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
                text=f"{s}", callback_data=rating_data(request.request_id, s))] for s in (5, 4, 3, 2, 1)])
            await bot.send_message(USER, "Оцените", reply_markup=keyboard)
            await bot.session.close()
            press = tg.state.user(USER, "Клиент").press(data=rating_data(request.request_id, 4))
        forged = copy.deepcopy(press)
        forged["update_id"] += 1000
        forged["callback_query"]["from"]["id"] = STRANGER
        foreign = copy.deepcopy(press)
        foreign["update_id"] += 2000
        foreign["callback_query"]["data"] = "buy:now"
        for update in (press, forged, foreign):
            envelope = telegram_envelope(json.dumps(update).encode(), source="polling")
            feed.record(TELEGRAM_UPDATES, str(USER), envelope)
        feed.webhook("1382", csat(1382, "good"))

        recorded = await wait_for(kafka_bootstrap, settings, RATING_RECORDED,
                                  lambda rs: len([r for r in rs if isinstance(r, RatingRecorded | RatingRejected)]) >= 2
                                  and any(isinstance(r, PortalRatingRecorded) for r in rs))
        [rating] = [r for r in recorded if isinstance(r, RatingRecorded)]
        [rejection] = [r for r in recorded if isinstance(r, RatingRejected)]
        assert (rating.score, rating.from_user_id, rating.issue_id) == (4, USER, "1380")
        assert (rejection.reason, rejection.from_user_id) == ("not_yours", STRANGER)
        [portal] = [r for r in recorded if isinstance(r, PortalRatingRecorded)]
        assert (portal.issue_id, portal.rate) == ("1382", "good")

        # Time passes on the streams' clock, which is event time: an event a day later brings the
        # reminder, one 8 days later the expiry (no real seconds waited for either).
        now = utc_now()
        feed.webhook("9001", okdesk_status(9001, "opened", "new"), received_at=now + timedelta(hours=25))
        await wait_for(kafka_bootstrap, settings, RATING_REQUESTED,
                       lambda rs: any(isinstance(r, RatingReminder) and r.issue_id == "1381" for r in rs))
        feed.webhook("9001", okdesk_status(9001, "opened", "new"), received_at=now + timedelta(days=8))
        lifecycle = await wait_for(kafka_bootstrap, settings, RATING_REQUESTED,
                                   lambda rs: any(isinstance(r, RatingExpired) and r.issue_id == "1381" for r in rs))
        reminders = [r for r in lifecycle if isinstance(r, RatingReminder)]
        assert sorted(r.issue_id for r in reminders) == ["1381"]  # 1380 was rated, 1382 closed
        assert [r.reason for r in lifecycle if isinstance(r, RatingClosed)] == ["rated_in_portal"]
        assert not any(isinstance(r, RatingExpired) and r.issue_id != "1381" for r in lifecycle)
        letters = await wait_for(kafka_bootstrap, settings, DEADLETTER, lambda rs: len(rs) >= 1)
        assert [letter.reason for letter in letters if isinstance(letter, DeadLetter)] == ["foreign_callback"]
        live_decisions = decided(recorded)

        # The worker's statistics, fanned out in-process from its own decisions, are the pure
        # fold of the decision topics it wrote (what a refold reads).
        decisions = await asyncio.to_thread(decision_items, kafka_bootstrap, settings)
        want = expected_snapshots(decisions, settings.stats_timezone)
        assert decode(want["all"]).ratings_count == 1 and decode(want["all"]).requests_expired == 1
        await converged(kafka_bootstrap, settings, want)

    # Reprocess: a fresh application under a scratch prefix reads the same raw topics.
    scratch = load_settings(_env_file=None, kafka_bootstrap_servers=kafka_bootstrap, topic_partitions=settings.topic_partitions,
                            topic_prefix=f"scratch{uuid.uuid4().hex[:6]}-", rating_remind_after="24h", rating_expiry="7d")
    ensure_topics(kafka_bootstrap, scratch)
    from streams.app import StreamsConfig
    from streams.assembly import create_app

    reprocess_id = f"okrate-reprocess-{uuid.uuid4().hex[:6]}"
    app = create_app(StreamsConfig(settings=scratch, bootstrap=kafka_bootstrap, app_id=reprocess_id,
                                   data_dir=tmp_path / "reprocess", store="memory://", metadata_max_age_ms=1000,
                                   source_prefix=settings.topic_prefix))
    await app.faust.start()
    try:
        await wait_for(kafka_bootstrap, scratch, RATING_RECORDED, lambda rs: len(decided(rs)) >= len(live_decisions))
        await caught_up(kafka_bootstrap, reprocess_id)  # it read the raw topics to their ends
        again = await wait_for(kafka_bootstrap, scratch, RATING_RECORDED, lambda rs: True)
    finally:
        await app.faust.stop()
    assert decided(again) == live_decisions
