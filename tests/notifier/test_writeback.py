"""Notifier II: the rating written back to Okdesk once, whatever fails (real broker, stand-ins)."""

from __future__ import annotations

import asyncio

from schemas.records import SideEffectIntent, SideEffectOutcome
from tests.notifier.conftest import (
    NotifierProcess,
    notifier_env,
    outcomes_async,
    recorded,
    request,
    running_notifier,
)


async def _final(bootstrap, settings, kinds=("okdesk.comment", "okdesk.rate"), within=30.0):
    out = {}
    for _ in range(int(within / 0.3)):
        records = await outcomes_async(bootstrap, settings)
        out = {o.kind: o for o in records if isinstance(o, SideEffectOutcome) and o.kind in kinds}
        if set(out) == set(kinds):
            return out, records
        await asyncio.sleep(0.3)
    raise AssertionError(f"no outcome for {set(kinds) - set(out)}")


async def test_a_recorded_4_is_one_comment_with_four_stars_and_rate_good(kafka_bootstrap, nsettings, feed, okdesk):
    settings = nsettings()
    issue = okdesk.state.add_issue("Не печатает принтер", status="completed")
    req = request(issue.id, user=701)
    async with running_notifier(settings, kafka_bootstrap):
        feed(settings).decided(recorded(req, 4, message_id=None))
        final, _ = await _final(kafka_bootstrap, settings)
    comments = okdesk.state.comments_of(issue.id)
    assert len(comments) == 1
    comment = comments[0]
    assert "⭐⭐⭐⭐ " in comment.content and "⭐⭐⭐⭐⭐" not in comment.content
    assert "4 — Хорошо" in comment.content and f"[okrate:{req.request_id}]" in comment.content
    assert comment.author_id == 1 and comment.public is False
    assert okdesk.state.issues[issue.id].rate == "good"
    assert final["okdesk.comment"].status == "ok" and final["okdesk.comment"].okdesk_comment_id == str(comment.id)
    assert final["okdesk.rate"].status == "ok"
    for call in okdesk.state.calls:
        assert "api_token" not in str(call.params["query"])


async def test_okdesk_failing_for_a_while_then_recovering_is_written_once(kafka_bootstrap, nsettings, feed, okdesk):
    settings = nsettings(okdesk_comment_public=True)
    issue = okdesk.state.add_issue("Сеть", status="completed")
    okdesk.state.faults.fail_next(3, 500, methods=["add_comment"])
    okdesk.state.faults.fail_next(2, 502, methods=["rate_issue"])
    req = request(issue.id, user=702)
    async with running_notifier(settings, kafka_bootstrap):
        feed(settings).decided(recorded(req, 2, message_id=None))
        final, records = await _final(kafka_bootstrap, settings)
    assert len(okdesk.state.comments_of(issue.id)) == 1
    assert okdesk.state.comments_of(issue.id)[0].public is True
    assert okdesk.state.issues[issue.id].rate == "bad"
    assert final["okdesk.comment"].status == "ok" and final["okdesk.comment"].attempt == 4
    assert final["okdesk.rate"].status == "ok" and final["okdesk.rate"].attempt == 3
    intents = [r for r in records if isinstance(r, SideEffectIntent) and r.kind == "okdesk.comment"]
    assert [i.attempt for i in intents] == [1, 2, 3, 4]


async def test_422_fails_at_once_and_an_already_rated_issue_is_harmless(kafka_bootstrap, nsettings, feed, okdesk):
    settings = nsettings(okdesk_author_id=999)  # no such employee: Okdesk answers 422
    issue = okdesk.state.add_issue("Почта", status="completed")
    okdesk.state.rate_issue(issue.id, "normal")  # rated in the portal meanwhile
    async with running_notifier(settings, kafka_bootstrap):
        feed(settings).decided(recorded(request(issue.id, user=703), 5, message_id=None))
        final, _ = await _final(kafka_bootstrap, settings)
        await asyncio.sleep(0.5)
    assert final["okdesk.comment"].status == "failed" and final["okdesk.comment"].http_status == 422
    assert "author_id" in final["okdesk.comment"].error
    assert final["okdesk.rate"].status == "failed" and "оценена" in final["okdesk.rate"].error
    assert len(okdesk.state.calls_to("add_comment")) == 1
    # the documented form, refused naming `rate`, then once the other form (none has worked yet)
    assert [c.params["body"] for c in okdesk.state.calls_to("rate_issue")] == [
        {"rate": "good"}, {"issue": {"rate": "good"}}]
    assert okdesk.state.issues[issue.id].rate == "normal"


async def test_giving_up_after_okdesk_retry_for(kafka_bootstrap, nsettings, feed, okdesk):
    settings = nsettings(okdesk_retry_for="2s", okdesk_set_native_rate=False)
    issue = okdesk.state.add_issue("VPN", status="completed")
    okdesk.state.faults.fail_for(60, 503)
    async with running_notifier(settings, kafka_bootstrap):
        feed(settings).decided(recorded(request(issue.id, user=704), 3, message_id=None))
        final, _ = await _final(kafka_bootstrap, settings, kinds=("okdesk.comment",))
    assert final["okdesk.comment"].status == "failed" and "gave up" in final["okdesk.comment"].error
    assert okdesk.state.comments_of(issue.id) == []


async def test_a_slow_okdesk_does_not_delay_telegram(kafka_bootstrap, nsettings, feed, okdesk, tg):
    settings = nsettings()
    issue = okdesk.state.add_issue("Медленно", status="completed")
    okdesk.state.faults.set_latency(6.0, methods=["add_comment"])
    state = tg.state
    user = state.user(705)
    req = request(issue.id, user=705)
    async with running_notifier(settings, kafka_bootstrap):
        f = feed(settings)
        f.requested(req)
        first = (await state.wait_until(lambda: user.bot_messages(), within=15))[0]
        f.decided(recorded(req, 5, message_id=first.message_id))
        f.requested(request(issue.id + 1, 2, user=706))
        await state.wait_until(lambda: len(user.bot_messages()) == 2 and state.user(706).bot_messages(), within=4)
        assert okdesk.state.comments_of(issue.id) == []  # Okdesk still busy
        await okdesk.state.wait_until(lambda: okdesk.state.comments_of(issue.id), within=10)


async def test_sigkill_between_the_okdesk_call_and_the_outcome_is_reconciled(
        kafka_bootstrap, nsettings, feed, okdesk, tmp_path):
    settings = nsettings()
    state = okdesk.state
    issue = state.add_issue("Крах", status="completed")
    state.faults.set_latency(2.0, methods=["add_comment"])
    req = request(issue.id, user=707)
    feed(settings).decided(recorded(req, 4, message_id=None))
    proc = NotifierProcess(notifier_env(settings, kafka_bootstrap), tmp_path / "notifier.log")
    proc.start()
    try:
        # the comment's intent is recorded and its call is under way: kill now
        for _ in range(200):
            records = await outcomes_async(kafka_bootstrap, settings)
            if any(isinstance(r, SideEffectIntent) and r.kind == "okdesk.comment" for r in records):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        proc.kill()
        await state.wait_until(lambda: state.comments_of(issue.id), within=10)  # Okdesk finished it
        records = await outcomes_async(kafka_bootstrap, settings)
        assert not any(isinstance(r, SideEffectOutcome) and r.kind == "okdesk.comment" for r in records)
        state.faults.clear()
        proc.start()
        final, _ = await _final(kafka_bootstrap, settings)
    finally:
        assert proc.terminate() == 0, proc.log_text()[-3000:]
    assert len(state.comments_of(issue.id)) == 1
    assert len(state.calls_to("add_comment")) == 1
    assert state.issues[issue.id].rate == "good"
    assert len([c for c in state.calls_to("rate_issue") if c.ok]) == 1
    assert final["okdesk.comment"].status == "ok"
    assert final["okdesk.comment"].details.get("reconciled") == "true"
    assert final["okdesk.comment"].okdesk_comment_id == str(state.comments_of(issue.id)[0].id)


async def test_a_decision_read_twice_in_one_batch_is_written_once(kafka_bootstrap, nsettings, feed, okdesk):
    """A redelivered decision (the streams re-emit after a restart) whose two copies the notifier
    reads together: both are accepted at once, and Okdesk still gets one comment and one rate."""
    settings = nsettings()
    issue = okdesk.state.add_issue("Копия решения", status="completed")
    req = request(issue.id, user=703)
    decision = recorded(req, 1, message_id=None)
    feed(settings).decided(decision)
    feed(settings).decided(decision)  # both on the topic before the notifier reads it: one poll
    async with running_notifier(settings, kafka_bootstrap):
        _final_outcomes, records = await _final(kafka_bootstrap, settings)
        await asyncio.sleep(1.0)  # a second write, had it been scheduled, would land meanwhile
        records = await outcomes_async(kafka_bootstrap, settings)
    assert len(okdesk.state.comments_of(issue.id)) == 1
    assert okdesk.state.issues[issue.id].rate == "bad"
    intents = [r for r in records if isinstance(r, SideEffectIntent) and r.kind.startswith("okdesk.")]
    assert sorted(i.kind for i in intents) == ["okdesk.comment", "okdesk.rate"]
    outcomes = [r for r in records if isinstance(r, SideEffectOutcome) and r.kind.startswith("okdesk.")]
    assert sorted((o.kind, o.status) for o in outcomes) == [("okdesk.comment", "ok"), ("okdesk.rate", "ok")]
