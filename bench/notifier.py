"""Benchmark of Notifier I (issue 10): `python -m bench.notifier` → bench/results/notifier.json.

Against the Bot API stand-in enforcing Telegram's limits (30 messages/s in total, 1/s per chat):
- N requests (default 3,000) to N chats: messages per second (floor 28) and 429s received
  (floor 0);
- 20 requests to one chat, in the same burst: the gaps between its messages (≥ 1 s);
- the callback answer latency while that backlog drains: a press every 0.5 s, p99 < 1 s.
Uses KAFKA_BOOTSTRAP_SERVERS when set, otherwise starts a throw-away local broker;
BENCH_NOTIFIER_REQUESTS sets N.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import Producer

from base.kafka_clients import producer_config
from base.settings import load_settings
from base.topic_admin import ensure_topics
from bench.broker import bench_broker
from bench.common import percentile, write_result
from sandbox.telegram_api import running_telegram
from sandbox.telegram_state import TelegramState
from schemas.codec import encode
from schemas.keys import issue_key
from schemas.records import RatingRequested, utc_now
from schemas.topics import RATING_REQUESTED

ROOT = Path(__file__).resolve().parents[1]
ONE_CHAT = 7_000_000


def _request(issue: int, n: int, chat: int) -> RatingRequested:
    now = utc_now()
    return RatingRequested(
        event_id=f"b{issue}", request_id=f"{issue}.0.{n}", issue_id=str(issue), cycle=1, requested_at=now,
        trigger_partition=0, trigger_offset=n, status_code="completed", status_name="Решена",
        title=f"Заявка {issue}", deliverable=True, recipient_user_id=chat, recipient_chat_id=chat,
        addressed_at=now,
    )


async def run(bootstrap: str, requests: int, one_chat: int) -> dict:
    state = TelegramState()
    async with running_telegram(state) as tg:
        settings = load_settings(
            _env_file=None, kafka_bootstrap_servers=bootstrap, topic_prefix=f"bench-{uuid.uuid4().hex[:8]}-",
            telegram_bot_token=tg.token, telegram_api_url=tg.base_url,
        )
        ensure_topics(bootstrap, settings)
        producer = Producer(producer_config(bootstrap))
        topic = RATING_REQUESTED.full_name(settings)
        for i in range(requests):
            record = _request(100_000 + i, i, 1_000_000 + i)
            producer.produce(topic, key=issue_key(record.issue_id), value=encode(record))
            if one_chat and i % max(1, requests // one_chat) == 0 and i // max(1, requests // one_chat) < one_chat:
                r = _request(900_000 + i, i, ONE_CHAT)
                producer.produce(topic, key=issue_key(r.issue_id), value=encode(r))
        producer.flush(60)
        presser = state.user(ONE_CHAT - 1)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "OKDESK_", "TOPIC_"))}
        env.update(KAFKA_BOOTSTRAP_SERVERS=bootstrap, TOPIC_PREFIX=settings.topic_prefix,
                   TELEGRAM_BOT_TOKEN=tg.token, TELEGRAM_API_URL=tg.base_url, LOG_LEVEL="WARNING",
                   TELEGRAM_PRESS_ANSWER_WAIT="0s")  # no streams here: the answerer's own path is measured
        # the notifier runs as it does in production: a process of its own
        notifier = await asyncio.create_subprocess_exec(sys.executable, "-m", "okrate.cli", "notifier",
                                                        env=env, cwd=ROOT)
        started = time.monotonic()
        latencies: list[float] = []
        try:
            sent = lambda: sum(c.ok for c in state.calls_to("sendMessage"))  # noqa: E731
            # the presser's own request: it gets its buttons, then presses while the backlog drains
            producer.produce(topic, key=b"999999", value=encode(_request(999_999, 1, ONE_CHAT - 1)))
            producer.flush(10)
            await state.wait_until(lambda: presser.bot_messages(), within=600)
            while sent() < requests + one_chat + 1:
                update = presser.press(text="⭐⭐⭐⭐ Хорошо (4)")
                query = state.callback_queries[update["callback_query"]["id"]]
                await state.wait_until(lambda q=query: q.answered_at, within=10)
                latencies.append(query.answered_at - query.created_at)
                await asyncio.sleep(0.5)
            elapsed = time.monotonic() - started
        finally:
            notifier.terminate()
            await asyncio.wait_for(notifier.wait(), 30)
        burst = sorted(c.at for c in state.calls_to("sendMessage")
                       if c.ok and str(c.params["chat_id"]).startswith("1"))
        chat_times = sorted(c.at for c in state.calls_to("sendMessage")
                            if c.ok and str(c.params["chat_id"]) == str(ONE_CHAT))
        gaps = [b - a for a, b in itertools.pairwise(chat_times)]
        all_ok = sorted(c.at for c in state.calls_to("sendMessage") if c.ok)
        return {
            "requests": requests,
            "chats": requests,
            "stand_in_limits": {"messages_per_second": state.limits.messages_per_second,
                                "per_chat_per_second": state.limits.per_chat_per_second},
            "messages_sent": len(all_ok),
            # every message sent while the burst drained, over the time it took
            "messages_per_second": round(
                (sum(burst[0] <= t <= burst[-1] for t in all_ok) - 1) / (burst[-1] - burst[0]), 2),
            "floor_messages_per_second": 28,
            "http_429_received": sum(c.status == 429 for c in state.calls_to("sendMessage")),
            "floor_429": 0,
            "one_chat": {"messages": len(chat_times), "min_gap_s": round(min(gaps), 3) if gaps else None,
                         "mean_gap_s": round(statistics.mean(gaps), 3) if gaps else None},
            "callback_answer_latency_s": {
                "presses": len(latencies), "p50": round(percentile(latencies, 50), 4),
                "p99": round(percentile(latencies, 99), 4), "max": round(max(latencies), 4)},
            "wall_clock_s": round(elapsed, 1),
        }


def main() -> dict:
    # The stand-in keeps every chat and call in memory; the collector's full passes over them
    # would stall its event loop and bunch up arrival times that Telegram's servers would not.
    gc.disable()
    try:
        with bench_broker() as bootstrap:
            result = asyncio.run(run(bootstrap, int(os.environ.get("BENCH_NOTIFIER_REQUESTS", "3000")), 20))
    finally:
        gc.enable()
    result["floors_met"] = {
        "messages_per_s_28": result["messages_per_second"] >= 28,
        "no_429": result["http_429_received"] == 0,
        "one_chat_gap_1s": (result["one_chat"]["min_gap_s"] or 1) >= 1.0,
        "press_answer_p99_1s": result["callback_answer_latency_s"]["p99"] < 1.0,
    }
    write_result("notifier", result)
    return result


if __name__ == "__main__":
    main()
