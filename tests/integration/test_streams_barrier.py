"""The output barrier through the real broker: a worker that dies after deciding and writing its
table, but before the broker acknowledged the decision it produced, neither loses the decision
nor makes it twice: the input was not committed, so the next worker decides it again, with the
same id."""

from __future__ import annotations

import asyncio

from confluent_kafka import Producer

from schemas.records import RatingRequested
from schemas.topics import RATING_REQUESTED
from streams.app import StreamsConfig
from streams.assembly import create_app
from tests.integration.test_streams_requests import okdesk_status
from tests.streams_harness import FakeProducer, Feeder, running_streams, wait_for


async def test_a_worker_killed_before_its_output_was_acknowledged_loses_and_duplicates_nothing(
        settings_for, kafka_bootstrap, tmp_path, unique_id):
    settings = settings_for()
    app_id = f"okrate-barrier-{unique_id}"
    Feeder(settings, kafka_bootstrap).webhook("400", okdesk_status(400, "completed", "opened"))

    first = create_app(StreamsConfig(settings=settings, bootstrap=kafka_bootstrap, app_id=app_id,
                                     data_dir=tmp_path / "first", store="memory://", metadata_max_age_ms=1000))
    # Its prompt outputs (the request) go to a broker that never answers: produced, never
    # acknowledged; its table's write is stored (the batch producer's broker is the real one).
    first.outputs._prompt = Producer({"bootstrap.servers": "127.0.0.1:1", "log_level": 0})
    decided = first.metrics.decisions.labels("RatingRequested")
    await first.faust.start()
    try:
        for _ in range(240):
            if decided._value.get() >= 1:
                break
            await asyncio.sleep(0.25)
        assert decided._value.get() == 1, "the first worker never decided the webhook"
    finally:
        # Dies: nothing waits for the in-flight event (the table's changelog is flushed, as a
        # worker killed after writing it would have).
        first.faust.before_wait_empty.clear()
        first.faust.conf.stream_wait_empty = False
        await first.faust.stop()
    assert first.outputs.pending() == 1  # the event was never acked

    async with running_streams(settings, kafka_bootstrap, tmp_path / "second", app_id=app_id) as second:
        await wait_for(kafka_bootstrap, settings, RATING_REQUESTED,
                       lambda rs: any(isinstance(r, RatingRequested) for r in rs))
        for _ in range(240):  # until the redelivered webhook's outputs were stored and it was acked
            if second.outputs.pending() == 0:
                break
            await asyncio.sleep(0.25)
        assert second.outputs.pending() == 0
    records = await wait_for(kafka_bootstrap, settings, RATING_REQUESTED, lambda rs: True)
    requests = [r for r in records if isinstance(r, RatingRequested)]
    assert len(requests) == 1 and requests[0].issue_id == "400"
    assert requests[0].request_id.startswith("400.")  # the raw webhook's position: the same under any replay


def test_a_worker_produces_what_a_client_waits_on_through_the_prompt_producer(settings_for, kafka_bootstrap, tmp_path):
    """Requests, presses and recorded ratings linger 20 ms; issue events, the contacts' side's
    copies and the tables' changelogs 100 ms (`streams.outputs`), under the deployment's names."""
    from schemas.topics import ISSUE_EVENTS, RATING_RECEIVED, RATING_RECORDED, REQUESTS_BY_CONTACT

    settings = settings_for()
    app = create_app(StreamsConfig(settings=settings, bootstrap=kafka_bootstrap, data_dir=tmp_path, store="memory://"))
    app.outputs._prompt = prompt = FakeProducer()
    app.outputs._batch = batch = FakeProducer()
    changelog = app.faust.tables["issues"].changelog_topic_name
    for spec in (RATING_REQUESTED, RATING_RECEIVED, RATING_RECORDED, ISSUE_EVENTS, REQUESTS_BY_CONTACT):
        app.outputs.produce(app.topic.name_of(spec), b"1380", b"value")
    app.outputs.produce(changelog, b"1380", b"{}", partition=0)
    assert [topic for topic, *_ in prompt.produced] == [
        spec.full_name(settings) for spec in (RATING_REQUESTED, RATING_RECEIVED, RATING_RECORDED)]
    assert [topic for topic, *_ in batch.produced] == [
        ISSUE_EVENTS.full_name(settings), app.topic.name_of(REQUESTS_BY_CONTACT), changelog]
