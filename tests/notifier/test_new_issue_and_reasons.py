"""Notifier IV: a new issue from the bot, reasons for low scores, alerts to the team
(real broker, the stand-ins; the streams app in-process where the whole way is checked)."""

from __future__ import annotations

import asyncio
import itertools
import re

from base.links import link_record
from schemas.codec import encode
from schemas.keys import contact_key
from schemas.records import (
    ReasonGiven,
    SideEffectIntent,
    SideEffectOutcome,
    StatsSnapshot,
)
from schemas.topics import CONTACT_LINKS, RATING_RECEIVED, RATING_STATS
from tests.integration.test_streams_requests import okdesk_status
from tests.notifier.conftest import (
    NotifierProcess,
    notifier_env,
    outcomes_async,
    recorded,
    request,
    running_notifier,
)
from tests.notifier.helpers import said
from tests.streams_harness import Feeder, running_streams, wait_for

ALERTS = -100777


def feed_link(settings, bootstrap, contact: str, user: int) -> None:
    Feeder(settings, bootstrap).raw(CONTACT_LINKS, contact_key(contact),
                                    encode(link_record(contact, "linked", "operator", user)))


async def test_a_new_issue_through_the_bot_then_its_resolution_rated_2_with_reasons_and_an_alert(
        kafka_bootstrap, nsettings, tg, okdesk, data_dir):
    settings = nsettings(alert_chat_id=ALERTS, okdesk_comment_public=False)
    od = okdesk.state
    company = od.add_company("ООО Ромашка")
    od.add_contact("Анна", "Петрова", phone="+79161112233", company_id=company.id, id=95)
    feed_link(settings, kafka_bootstrap, "95", 1401)
    state = tg.state
    state.add_group(ALERTS, "Служба поддержки: оценки")
    user = state.user(1401, "Анна")
    feed = Feeder(settings, kafka_bootstrap)
    async with running_streams(settings, kafka_bootstrap, data_dir), running_notifier(settings, kafka_bootstrap):
        user.command("new")
        await said(state, user, "Опишите, пожалуйста, проблему")
        user.send("Не печатает принтер\nС утра принтер в бухгалтерии <HP> не печатает")
        [created] = await said(state, user, "создана", within=20)
        issue_id = int(re.search(r"№(\d+)", created.text)[1])
        issue = od.issues[issue_id]
        assert (issue.title, issue.contact_id, issue.company_id) == ("Не печатает принтер", 95, company.id)
        assert "&lt;HP&gt;" in issue.description and "[okrate:new:" in issue.description
        assert f'https://acme.okdesk.ru/issues/{issue_id}' in state.calls_to("sendMessage")[-1].params["text"]

        # its resolution is rated like any other: the contact is linked
        feed.webhook(str(issue_id), okdesk_status(issue_id, "completed", "opened", contact=95))
        await said(state, user, f"№{issue_id}", count=2, within=30)  # the confirmation, then the request
        user.press(text="⭐⭐ Плохо (2)")
        await said(state, user, "Что пошло не так?", within=30)
        user.press(text="Долго")
        await said(state, user, "отметили: Долго", within=30)
        user.send("Ждали ответа три дня")
        await said(state, user, "комментарий передан", within=30)

        def on_issue():
            return [c.content for c in od.comments_of(issue_id)]
        await od.wait_until(lambda: len(on_issue()) == 3, within=20)
        alerts = await state.wait_until(
            lambda: (t := "\n".join(m.text for m in state.bot_messages(ALERTS))) and "Ждали" in t and t, within=30)
        stats = await wait_for(kafka_bootstrap, settings, RATING_STATS, lambda rs: any(
            isinstance(r, StatsSnapshot) and r.dimension == "all" and r.top_reasons.get("Долго")
            and sum(r.top_reasons.values()) >= 2 for r in rs), timeout=30)
    comments = on_issue()
    assert sum("Оценка клиента: <b>2 — Плохо</b>" in c for c in comments) == 1
    assert sum("<b>Долго</b>" in c for c in comments) == 1
    assert sum("Ждали ответа три дня" in c for c in comments) == 1
    assert od.issues[issue_id].rate == "bad"
    assert f"заявка №{issue_id}" in alerts and "⭐⭐ (2)" in alerts and "Долго" in alerts
    assert f'href="https://acme.okdesk.ru/issues/{issue_id}"' in " ".join(
        c.params["text"] for c in state.calls_to("sendMessage") if str(c.params.get("chat_id")) == str(ALERTS))
    [snapshot] = [r for r in stats if isinstance(r, StatsSnapshot) and r.dimension == "all"][-1:]
    assert snapshot.top_reasons.get("Долго") == 1 and sum(snapshot.top_reasons.values()) == 2
    given = [r for r in await asyncio.to_thread(_read, kafka_bootstrap, settings, RATING_RECEIVED)
             if isinstance(r, ReasonGiven) and r.reason_code is None]
    assert [(g.text, g.issue_id) for g in given] == [("Ждали ответа три дня", str(issue_id))]


def _read(bootstrap, settings, spec):
    from schemas.codec import decode
    from tests.kafka_helpers import read_topic

    return [decode(r.value) for r in read_topic(bootstrap, spec.full_name(settings))]


async def test_the_notifier_killed_between_the_okdesk_call_and_the_outcome_still_one_issue(
        kafka_bootstrap, nsettings, tg, okdesk, tmp_path):
    settings = nsettings()
    od = okdesk.state
    od.add_contact("Борис", id=96)
    feed_link(settings, kafka_bootstrap, "96", 1501)
    state = tg.state
    user = state.user(1501, "Борис")
    od.faults.set_latency(2.5, methods=["create_issue"])
    proc = NotifierProcess(notifier_env(settings, kafka_bootstrap), tmp_path / "notifier.log")
    proc.start()
    try:
        user.command("new")
        await said(state, user, "Опишите", within=30)
        user.send("Нет интернета в офисе")
        for _ in range(200):  # the creation's intent is recorded and its call is under way: kill now
            records = await outcomes_async(kafka_bootstrap, settings)
            if any(isinstance(r, SideEffectIntent) and r.kind == "okdesk.create_issue" for r in records):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        proc.kill()
        await od.wait_until(lambda: [i for i in od.issues.values() if i.contact_id == 96], within=10)
        od.faults.clear()
        proc.start()
        [created] = await said(state, user, "создана", within=40)
        for _ in range(100):
            records = await outcomes_async(kafka_bootstrap, settings)
            done = [r for r in records if isinstance(r, SideEffectOutcome) and r.kind == "okdesk.create_issue"]
            if done:
                break
            await asyncio.sleep(0.2)
    finally:
        assert proc.terminate() == 0, proc.log_text()[-3000:]
    issues = [i for i in od.issues.values() if i.contact_id == 96]
    assert len(issues) == 1 and len(od.calls_to("create_issue")) == 1
    assert f"№{issues[0].id}" in created.text
    [outcome] = done
    assert outcome.status == "ok" and outcome.details.get("reconciled") == "true"
    assert outcome.details["issue_id"] == str(issues[0].id) and outcome.idempotency_key.startswith("new:")
    assert sum("создана" in (m.text or "") for m in user.bot_messages()) == 1


async def test_a_burst_of_low_ratings_is_batched_at_the_group_pace(kafka_bootstrap, nsettings, feed, tg):
    settings = nsettings(alert_chat_id=ALERTS, alert_max_score=2, okdesk_api_url=None, okdesk_api_token=None,
                         telegram_max_per_second=60.0)
    state = tg.state
    state.limits.messages_per_second = 60
    state.add_group(ALERTS)
    burst = [recorded(request(6000 + i, i, user=20_000 + i), 1 + i % 3, message_id=None) for i in range(24)]
    more = [recorded(request(6100 + i, 100 + i, user=20_100 + i), 1, message_id=None) for i in range(6)]
    low = [r for r in burst + more if r.score <= 2]

    def alerted(records):
        return all(any(f"№{r.issue_id}:" in m.text for m in state.bot_messages(ALERTS)) for r in records)

    async with running_notifier(settings, kafka_bootstrap):
        feed(settings).decided(*burst)
        await state.wait_until(lambda: alerted([r for r in burst if r.score <= 2]), within=30)
        feed(settings).decided(*more, *burst[:4])  # more low ratings at once; and a redelivery
        await state.wait_until(lambda: alerted(more), within=30)
        await asyncio.sleep(3.5)
    messages = state.bot_messages(ALERTS)
    text = "\n".join(m.text for m in messages)
    assert {r.issue_id: text.count(f"№{r.issue_id}:") for r in low} == {r.issue_id: 1 for r in low}
    assert not any(f"№{r.issue_id}:" in text for r in burst if r.score > 2)
    assert 2 <= len(messages) <= 4 < len(low)  # batched
    sends = [c for c in state.calls_to("sendMessage") if str(c.params.get("chat_id")) == str(ALERTS)]
    assert all(c.ok for c in sends)  # no 429 from the group's limit
    gaps = [b.at - a.at for a, b in itertools.pairwise(sends)]
    assert all(gap >= 2.9 for gap in gaps), gaps  # about 20 a minute
