"""`okrate replay`: a reprocess with unchanged rules reports no change; a rewind re-reads the raw
topics and decides nothing new; a switch restarts the application from offset 0 with the same
decisions (same ids)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime

from okrate import replay
from schemas.codec import decode
from schemas.records import RatingRecorded
from schemas.telegram_envelope import telegram_envelope
from schemas.topics import CONTACT_LINKS, RATING_RECORDED, RATING_REQUESTED, TELEGRAM_UPDATES
from tests.integration.test_streams_requests import link, okdesk_status
from tests.kafka_helpers import caught_up, raw_topics, read_topic
from tests.streams_harness import Feeder, running_streams, wait_for


def read_records(bootstrap: str, topic: str) -> list:
    return [decode(r.value) for r in read_topic(bootstrap, topic)]


def press_update(update_id: int, request_id: str, score: int, user: int = 555) -> bytes:
    return json.dumps({"update_id": update_id, "callback_query": {
        "id": f"q{update_id}", "from": {"id": user, "is_bot": False, "first_name": "A"}, "chat_instance": "1",
        "message": {"message_id": 1, "date": 0, "chat": {"id": user, "type": "private"}},
        "data": f"r:{request_id}:{score}"}}).encode()


def ids(records) -> list[str]:
    return sorted({r.event_id for r in records})


async def test_reprocess_rewind_and_switch_change_nothing(settings_for, kafka_bootstrap, data_dir, tmp_path, unique_id):
    settings = settings_for(streams_app_id=f"okrate-streams-{unique_id}")
    feed = Feeder(settings, kafka_bootstrap)
    feed.record(CONTACT_LINKS, "95", link("95", 555))
    for issue in (300, 301, 302):
        feed.webhook(str(issue), okdesk_status(issue, "completed", "opened"))
    async with running_streams(settings, kafka_bootstrap, data_dir, app_id=settings.streams_app_id):
        requests = await wait_for(kafka_bootstrap, settings, RATING_REQUESTED, lambda rs: len({r.issue_id for r in rs}) == 3)
        by_issue = {r.issue_id: r.request_id for r in requests}
        feed.record(TELEGRAM_UPDATES, "555", telegram_envelope(press_update(1, by_issue["300"], 5), "polling"))
        feed.record(TELEGRAM_UPDATES, "555", telegram_envelope(press_update(2, by_issue["301"], 2, user=777), "polling"))
        recorded = await wait_for(kafka_bootstrap, settings, RATING_RECORDED, lambda rs: len(rs) == 2)
    live_requests = ids(await wait_for(kafka_bootstrap, settings, RATING_REQUESTED, lambda rs: True))
    assert any(isinstance(r, RatingRecorded) for r in recorded)

    changes = await asyncio.to_thread(replay.reprocess, settings, kafka_bootstrap, f"{settings.topic_prefix}scratch-",
                                      tmp_path / "scratch", store="memory://", timeout=120)
    assert all(change.none for change in changes.values()), replay.describe(changes)
    assert len(replay.read_decisions(kafka_bootstrap, settings)["recorded ratings"]) == 1

    live_decisions = ids(recorded)
    rereads = await asyncio.to_thread(replay.rewind, settings, kafka_bootstrap, from_time=datetime(2020, 1, 1, tzinfo=UTC))
    assert rereads[f"{settings.topic_prefix}okdesk.events"] == 3
    async with running_streams(settings, kafka_bootstrap, data_dir / "again", app_id=settings.streams_app_id):
        # the rewind happened: the application read its inputs again, to their ends ...
        await caught_up(kafka_bootstrap, settings.streams_app_id, raw_topics(settings), own=False)
    # ... and decided nothing new
    assert ids(read_records(kafka_bootstrap, RATING_RECORDED.full_name(settings))) == live_decisions
    assert ids(read_records(kafka_bootstrap, RATING_REQUESTED.full_name(settings))) == live_requests

    before_records = read_records(kafka_bootstrap, RATING_RECORDED.full_name(settings))
    decisions_before = len(before_records)
    dropped = await asyncio.to_thread(replay.switch, settings, kafka_bootstrap)
    assert any(name.endswith("-changelog") for name in dropped)
    async with running_streams(settings, kafka_bootstrap, data_dir / "switched", app_id=settings.streams_app_id):
        # from offset 0: the decisions are made again and written again, with the same ids
        await wait_for(kafka_bootstrap, settings, RATING_RECORDED,
                       lambda rs: len(rs) >= decisions_before + len(recorded))
        await caught_up(kafka_bootstrap, settings.streams_app_id, raw_topics(settings), own=False)
    again = read_records(kafka_bootstrap, RATING_RECORDED.full_name(settings))
    # Every decision made again with its id, and nothing else. (`rating.received` holds each press
    # once per read of `telegram.updates`: live, rewound, switched; each copy is judged, and a
    # press already recorded is recorded again with the same id, which the notifier and the
    # statistics count once.)
    before_switch = Counter(r.event_id for r in before_records)
    made_again = Counter(r.event_id for r in again) - before_switch
    assert sorted(made_again) == live_decisions
    assert ids(read_records(kafka_bootstrap, RATING_REQUESTED.full_name(settings))) == live_requests
