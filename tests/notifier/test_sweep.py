"""The sweep through the real broker, the stand-ins and the streams: a resolution whose webhook
never came is asked about once; one whose webhook came adds nothing; one from before okrate's
first start is never asked; a thousand issues across many pages are all seen; two notifiers
sweep once between them."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from notifier.health import metrics_text
from notifier.okdesk.sweep import KEY, KIND
from notifier.service import Notifier
from okrate.status import sweep_figures
from sandbox.okdesk_objects import okdesk_time
from schemas.codec import decode
from schemas.records import OkdeskWebhookEnvelope, RatingRequested, SideEffectOutcome
from schemas.topics import OKDESK_EVENTS, RATING_REQUESTED
from tests.ingest_server import ingest_in_thread
from tests.kafka_helpers import read_topic
from tests.notifier.conftest import FAST, outcomes_async, running_notifier
from tests.streams_harness import running_streams, wait_for

SWEEPING = replace(FAST, okdesk_page_size=10)


def observations(bootstrap: str, settings) -> list[OkdeskWebhookEnvelope]:
    records = [decode(r.value) for r in read_topic(bootstrap, OKDESK_EVENTS.full_name(settings))]
    return [r for r in records if isinstance(r, OkdeskWebhookEnvelope) and r.origin == "sweep"]


async def sweeps(bootstrap: str, settings) -> list[SideEffectOutcome]:
    return [r for r in await outcomes_async(bootstrap, settings)
            if isinstance(r, SideEffectOutcome) and r.kind == KIND and r.idempotency_key == KEY]


async def until(condition, within: float, what: str):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if result := await condition():
            return result
        await asyncio.sleep(0.3)
    raise AssertionError(f"not within {within}s: {what}")


async def test_a_resolution_whose_webhook_was_lost_is_asked_once_and_nothing_else_is(
        kafka_bootstrap, nsettings, okdesk, data_dir):
    settings = nsettings(okdesk_sweep_every="1s")
    od = okdesk.state
    od.list_page_size_max = 10
    od.add_contact("Иван", id=95)
    before = od.add_issue("Решена до установки", contact_id=95, status="completed")
    before.completed_at = before.updated_at = okdesk_time(time.time() - 3600)
    normal = od.add_issue("Вебхук дошёл", contact_id=95)
    lost = od.add_issue("Вебхук потерян", contact_id=95)
    with ingest_in_thread(settings, kafka_bootstrap) as port:
        od.add_webhook_target(f"http://127.0.0.1:{port}{settings.webhook_path}")
        async with running_streams(settings, kafka_bootstrap, data_dir), \
                running_notifier(settings, kafka_bootstrap, SWEEPING) as notifier:
            await until(lambda: sweeps(kafka_bootstrap, settings), 30, "the sweep's first position")
            [delivered] = await od.change_status(normal.id, "completed")
            assert delivered.ok
            od.webhooks_down = True  # the ingest unreachable: Okdesk does not retry
            [failed] = await od.change_status(lost.id, "completed")
            assert not failed.ok
            od.webhooks_down = False
            requested = await wait_for(kafka_bootstrap, settings, RATING_REQUESTED, lambda rs: {
                r.issue_id for r in rs if isinstance(r, RatingRequested)} >= {str(normal.id), str(lost.id)})
            swept = notifier.sweep.figures.sweeps
            await until(lambda: _true(notifier.sweep.figures.sweeps >= swept + 3), 30, "three more sweeps")
            requested = await wait_for(kafka_bootstrap, settings, RATING_REQUESTED, lambda rs: True)
            metrics = metrics_text(notifier).decode()
    assert "okrate_sweep_last_timestamp_seconds" in metrics and "okrate_sweep_observations" in metrics
    figures = await asyncio.to_thread(sweep_figures, kafka_bootstrap, settings)
    assert figures["cycles_started"] == 1 and figures["sweeps"] >= 3 and figures["observations"] == 2
    assert figures["last_sweep_at"] is not None and figures["last_issues_seen"] == 3  # the one from before is listed, not kept
    asked = sorted(r.issue_id for r in requested if isinstance(r, RatingRequested))
    assert asked == sorted([str(normal.id), str(lost.id)])  # once each; never the one from before
    seen = await asyncio.to_thread(observations, kafka_bootstrap, settings)
    # listed by every sweep, appended once (the rules would make repeats free all the same)
    assert sorted(o.issue_id for o in seen) == sorted([str(normal.id), str(lost.id)])
    [one] = [o for o in seen if o.issue_id == str(lost.id)][:1]
    assert one.path.startswith("/api/v1/issues/list?completed_since=") and "api_token" not in one.path
    assert one.body.decode().startswith('{"id": ' + str(lost.id))  # the API's answer, byte for byte


async def _true(value: bool) -> bool:
    return value


async def test_a_thousand_issues_across_many_pages_are_all_seen(kafka_bootstrap, nsettings, okdesk):
    settings = nsettings(okdesk_sweep_every="2s")
    od = okdesk.state
    od.list_page_size_max = 25
    async with running_notifier(settings, kafka_bootstrap, replace(FAST, okdesk_page_size=25)) as notifier:
        await until(lambda: sweeps(kafka_bootstrap, settings), 30, "the sweep's first position")
        od.webhooks_down = True
        for n in range(1000):
            issue = od.add_issue(f"issue {n}")
            await od.change_status(issue.id, "completed")
        issues = {str(i) for i in od.issues}
        # In all (a sweep may run while the issues are being added: the next one takes the rest).
        await until(lambda: _true(notifier.sweep.figures.appended >= 1000), 120, "sweeps of 1,000")
        assert notifier.sweep.figures.pages >= 40
    seen = await asyncio.to_thread(observations, kafka_bootstrap, settings)
    assert {o.issue_id for o in seen} == issues
    listed = od.calls_to("list_issues")
    assert all(c.params["query"]["page[size]"] == "25" for c in listed)
    assert {c.params["query"]["sorting[field]"] for c in listed} == {"updated_at"}


async def test_two_notifiers_sweep_once_and_the_position_survives_the_takeover(kafka_bootstrap, nsettings, okdesk):
    settings = nsettings(okdesk_sweep_every="1s")
    async with running_notifier(settings, kafka_bootstrap, SWEEPING) as first:
        second = Notifier(settings, kafka_bootstrap, SWEEPING)
        starting = asyncio.create_task(second.start())
        await until(lambda: _true(first.sweep is not None and first.sweep.figures.sweeps >= 3), 30, "three sweeps")
        assert not second.started.is_set() and second.sweep is None  # standby: it does not sweep
        [started] = [s for s in await sweeps(kafka_bootstrap, settings) if s.details.get("started")]
        floor = started.details["floor"]
    try:
        await asyncio.wait_for(starting, 20)  # the first one stopped: the standby takes over
        done = first.sweep.figures.sweeps
        await until(lambda: _true(second.sweep.figures.sweeps >= 2), 30, "the standby sweeping")
    finally:
        await second.stop()
    recorded = await sweeps(kafka_bootstrap, settings)
    assert len([s for s in recorded if s.details.get("started")]) == 1  # one first start, kept
    assert {s.details["floor"] for s in recorded} == {floor}
    assert len(recorded) == 1 + done + second.sweep.figures.sweeps  # each sweep ran in one process
