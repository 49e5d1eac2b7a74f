"""The notifier as a process, killed with SIGKILL mid-burst and restarted."""

from __future__ import annotations

import asyncio
from collections import Counter

from schemas.records import SideEffectIntent, SideEffectOutcome
from tests.notifier.conftest import NotifierProcess, notifier_env, outcomes_async, request


async def test_sigkill_mid_burst_no_message_twice_beyond_those_counted_none_missing(
        kafka_bootstrap, nsettings, feed, tg, tmp_path):
    chats = 150
    settings = nsettings(telegram_max_per_second=60.0)
    state = tg.state
    state.limits.messages_per_second = 60
    feed(settings).requested(*[request(3000 + i, i, user=10_000 + i) for i in range(chats)])
    proc = NotifierProcess(notifier_env(settings, kafka_bootstrap), tmp_path / "notifier.log")
    proc.start()
    try:
        await state.wait_until(lambda: sum(c.ok for c in state.calls_to("sendMessage")) >= 40, within=60)
        proc.kill()
        killed_at = sum(c.ok for c in state.calls_to("sendMessage"))
        assert killed_at < chats, "the burst was over before the kill"
        proc.start()
        await state.wait_until(lambda: all(state.bot_messages(10_000 + i) for i in range(chats)), within=60)
        records = []
        for _ in range(100):
            records = await outcomes_async(kafka_bootstrap, settings)
            done = {o.idempotency_key for o in records if isinstance(o, SideEffectOutcome)}
            if len(done) == chats:
                break
            await asyncio.sleep(0.3)
    finally:
        code = proc.terminate()
    assert code == 0, proc.log_text()[-3000:]
    per_chat = Counter(len(state.bot_messages(10_000 + i)) for i in range(chats))
    extra = sum((n - 1) * count for n, count in per_chat.items())
    outcomes = [o for o in records if isinstance(o, SideEffectOutcome)]
    duplicates = sum(o.status == "possible_duplicate" for o in outcomes)
    assert set(per_chat) <= {1, 2}  # none missing
    assert extra <= duplicates  # a second message only where counted
    assert duplicates <= 10  # only the calls under way at the kill, not the whole queue
    assert sorted(Counter(o.idempotency_key for o in outcomes).values()) == [1] * chats
    assert {o.status for o in outcomes} <= {"ok", "possible_duplicate"}
    intents = [o for o in records if isinstance(o, SideEffectIntent)]
    assert len(intents) == chats + sum(o.attempt > 1 for o in outcomes)
