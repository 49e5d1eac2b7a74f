"""Two deployments on one Kafka cluster (issue 27), each as its operator runs it: `okrate streams`
from its own environment (only TOPIC_PREFIX and its ports differ, no STREAMS_APP_ID, no data
folder given) and its own notifier and bot. The same Okdesk issue ids, different links.

Before the names were derived from the prefix, both workers joined the consumer group
`okrate-streams` and restored each other's tables from `okrate-streams-*-changelog`: the second
deployment's client was never asked.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from base import names
from base.consumer_lag import end_offsets
from base.settings import Settings, load_settings
from base.topic_admin import ensure_topics
from bench.common import free_ports
from notifier.service import Notifier, Tuning
from okrate.rebuild_stats import latest_snapshots
from sandbox.telegram_api import RunningTelegram, running_telegram
from sandbox.telegram_state import TelegramState
from schemas.records import ContactLink, RatingRequested
from schemas.topics import ALL_TOPICS, CONTACT_LINKS, RATING_REQUESTED, RATING_STATS
from tests.conftest import _delete_topics_with_prefix
from tests.integration.test_streams_requests import okdesk_status
from tests.notifier.helpers import said
from tests.streams_harness import Feeder, wait_for

ROOT = Path(__file__).resolve().parents[2]
FAST = Tuning(long_poll=5, probe=0.5, standby_retry=2.0)


@dataclass
class Deployment:
    settings: Settings
    tg: RunningTelegram
    user: object  # the client's Telegram user on this deployment's bot
    feed: Feeder
    workdir: Path

    @property
    def prefix(self) -> str:
        return self.settings.topic_prefix


class StreamsProcess:
    """`okrate streams` in the deployment's own folder, from its own environment."""

    def __init__(self, d: Deployment, bootstrap: str):
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("TOPIC_", "STREAMS_", "STATS_"))}
        self.env.update(KAFKA_BOOTSTRAP_SERVERS=bootstrap, TOPIC_PREFIX=d.prefix,
                        TOPIC_PARTITIONS=str(d.settings.topic_partitions), STREAMS_STORE="memory://",
                        STATS_PORT=str(free_ports(1)), LOG_LEVEL="INFO", PYTHONPATH=str(ROOT))
        self.cwd, self.log_path = d.workdir, d.workdir / "streams.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "okrate.cli", "streams"], cwd=self.cwd,
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


@asynccontextmanager
async def running(d: Deployment, bootstrap: str):
    worker = StreamsProcess(d, bootstrap)
    worker.start()
    notifier = Notifier(d.settings, bootstrap, FAST)
    try:
        async with notifier.running():
            yield worker
    except BaseException:
        print(f"--- {d.prefix} streams log ---\n{worker.log_tail()}")
        raise
    finally:
        await asyncio.to_thread(worker.stop)


def link(contact: str, user: int) -> ContactLink:
    return ContactLink(contact_id=contact, state="linked", telegram_user_id=user, chat_id=user,
                       source="operator", changed_at=datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def deployments(kafka_bootstrap, tmp_path):
    """Deployments A and B: their own prefix, bot (a Bot API stand-in each), folder; none started."""
    made: list[Deployment] = []
    async with AsyncExitStack() as stack:
        for name, user_id in (("a", 501), ("b", 601)):
            prefix = f"t{uuid.uuid4().hex[:8]}{name}-"
            tg = await stack.enter_async_context(running_telegram(TelegramState()))
            settings = load_settings(_env_file=None, kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=prefix,
                                     topic_partitions=4, streams_store="memory://", telegram_bot_token=tg.token,
                                     telegram_api_url=tg.base_url)
            ensure_topics(kafka_bootstrap, settings)
            workdir = tmp_path / name
            workdir.mkdir()
            made.append(Deployment(settings, tg, tg.state.user(user_id, f"Client {name}"),
                                   Feeder(settings, kafka_bootstrap), workdir))
        try:
            yield made
        finally:
            for d in made:
                _delete_topics_with_prefix(kafka_bootstrap, d.prefix)


async def asked(d: Deployment, issue: str, times: int) -> None:
    await said(d.tg.state, d.user, f"№{issue}", within=120, count=times)


def requests_of(records) -> list[RatingRequested]:
    return [r for r in records if isinstance(r, RatingRequested) and r.addressed_at is not None]


def groups_by_topic_prefix(bootstrap: str, prefixes: list[str]) -> dict[str, set[str]]:
    """The consumer groups on the broker that read any topic of `prefixes` (or are named from one),
    with every topic they read, as the broker's own metadata says: the members' assignments (a
    Faust worker subscribes) and the committed offsets (the notifier assigns and commits)."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    listed = [g.group_id for g in admin.list_consumer_groups(request_timeout=20).result().valid]
    out: dict[str, set[str]] = {}
    for group_id, future in admin.describe_consumer_groups(listed, request_timeout=20).items():
        description = future.result()
        topics = {tp.topic for m in description.members for tp in (m.assignment.topic_partitions if m.assignment else [])}
        request = [ConsumerGroupTopicPartitions(group_id)]
        committed = admin.list_consumer_group_offsets(request, request_timeout=20)[group_id].result()
        topics |= {tp.topic for tp in committed.topic_partitions or [] if tp.offset >= 0}
        if any(t.startswith(tuple(prefixes)) for t in topics) or group_id.startswith(tuple(prefixes)):
            out[group_id] = topics
    return out


@pytest.mark.timeout(900)  # two deployments, then a reprocess and a rebuild, each a Faust application
async def test_two_deployments_on_one_cluster_share_nothing(deployments, kafka_bootstrap):
    a, b = deployments
    a.feed.record(CONTACT_LINKS, "95", link("95", 501))
    b.feed.record(CONTACT_LINKS, "95", link("95", 601))

    async with running(a, kafka_bootstrap):
        # A runs alone first; its client is asked about issue 1380.
        a.feed.webhook("1380", okdesk_status(1380, "completed", "opened"))
        await asked(a, "1380", 1)

        async with running(b, kafka_bootstrap):
            # B starts beside it, and the same issue id of B's Okdesk account is resolved there.
            b.feed.webhook("1380", okdesk_status(1380, "completed", "opened"))
            await asked(b, "1380", 1)
            b.feed.webhook("1381", okdesk_status(1381, "completed", "opened"))
            await asked(b, "1381", 1)

            # Both reopen 1380 and resolve it again: a new cycle, asked once more in each.
            for d in (a, b):
                d.feed.webhook("1380", okdesk_status(1380, "opened", "completed"))
                d.feed.webhook("1380", okdesk_status(1380, "completed", "opened"))
            await asked(a, "1380", 2)
            await asked(b, "1380", 2)

            # Exactly once per resolution: the requests each deployment decided, and what its
            # client saw (its own bot only: each stand-in knows one client).
            requested_a = await wait_for(kafka_bootstrap, a.settings, RATING_REQUESTED, lambda rs: len(requests_of(rs)) >= 2)
            requested_b = await wait_for(kafka_bootstrap, b.settings, RATING_REQUESTED, lambda rs: len(requests_of(rs)) >= 3)
            assert sorted(r.issue_id for r in requests_of(requested_a)) == ["1380", "1380"]
            assert sorted(r.issue_id for r in requests_of(requested_b)) == ["1380", "1380", "1381"]
            assert {r.recipient_user_id for r in requests_of(requested_a)} == {501}
            assert {r.recipient_user_id for r in requests_of(requested_b)} == {601}
            await converged_sent(kafka_bootstrap, a.settings, 2)
            await converged_sent(kafka_bootstrap, b.settings, 3)
            assert len([m for m in a.user.bot_messages() if "№1380" in (m.text or "")]) == 2
            assert not any("№1381" in (m.text or "") for m in a.user.bot_messages())
            assert len([m for m in b.user.bot_messages() if "№1380" in (m.text or "")]) == 2
            assert len([m for m in b.user.bot_messages() if "№1381" in (m.text or "")]) == 1

            # No consumer group and no topic is shared, as the broker's own metadata says.
            await assert_nothing_shared(kafka_bootstrap, a, b)

            # `okrate status` from B's environment: B's name, groups and topics, nothing of A's.
            shown = await asyncio.to_thread(okrate_status, b, kafka_bootstrap)
            assert shown["deployment"] == b.prefix.strip("-")
            assert shown["groups"]["streams"] == {"group": f"{b.prefix}okrate-streams", "state": "stable, 1 member"}
            assert shown["groups"]["notifier requests"]["group"] == f"{b.prefix}okrate-notifier-requests"
            assert f"{b.prefix}okrate-streams-issues-changelog" in shown["topics"]
            assert f"{b.prefix}okdesk.events" in shown["topics"] and not shown["missing_topics"]
            assert all(t.startswith(b.prefix) for t in shown["topics"])

    # A replay and a statistics rebuild in A leave B's figures (and every B topic) untouched.
    b_stats = latest_snapshots(kafka_bootstrap, RATING_STATS.full_name(b.settings))
    b_ends = end_offsets(kafka_bootstrap, [spec.full_name(b.settings) for spec in ALL_TOPICS])
    for args, said_ in ((["--reprocess"], "no change"), (["--rebuild-stats"], "identical to the live figures")):
        result = await asyncio.to_thread(okrate_replay, a, kafka_bootstrap, args)
        assert result.returncode == 0, result.stderr[-3000:]
        assert said_ in result.stdout, result.stdout[-3000:]
    scratch = next(line.split("'")[1] for line in result_lines(a) if "scratch prefix" in line)
    assert latest_snapshots(kafka_bootstrap, RATING_STATS.full_name(a.settings))["all"].requests_sent == 2
    assert latest_snapshots(kafka_bootstrap, RATING_STATS.full_name(b.settings)) == b_stats
    assert end_offsets(kafka_bootstrap, [spec.full_name(b.settings) for spec in ALL_TOPICS]) == b_ends
    # ... and their scratch applications were A's: groups and changelogs under A's prefix.
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap, "log_level": 0})
    groups = {g.group_id for g in admin.list_consumer_groups(request_timeout=20).result().valid}
    assert f"{scratch}okrate-streams" in groups
    # (The statistics rebuild is a batch job: its reader assigns partitions and commits nothing,
    # so it leaves no group behind; its group id is A's too, `base.names.reader_group`.)
    assert not any(g.startswith(b.prefix) and ("reprocess" in g or "stats-rebuild" in g) for g in groups)
    topics = set(admin.list_topics(timeout=20).topics)
    assert f"{scratch}okrate-streams-issues-changelog" in topics


def okrate_replay(d: Deployment, bootstrap: str, args: list[str]) -> subprocess.CompletedProcess:
    """`okrate replay ...` from the deployment's own environment and folder."""
    env = StreamsProcess(d, bootstrap).env
    with open(d.workdir / "replay.err", "a") as err:
        result = subprocess.run([sys.executable, "-m", "okrate.cli", "replay", *args], env=env, cwd=d.workdir,
                                stdout=subprocess.PIPE, stderr=err, text=True, timeout=400, check=False)
    result.stderr = (d.workdir / "replay.err").read_text(errors="replace")
    with open(d.workdir / "replay.log", "a") as log:
        log.write(result.stdout)
    return result


def okrate_status(d: Deployment, bootstrap: str) -> dict:
    env = {**StreamsProcess(d, bootstrap).env, "INGEST_PORT": "1", "STATS_PORT": "1", "NOTIFIER_PORT": "1"}
    result = subprocess.run([sys.executable, "-m", "okrate.cli", "status", "--json"], env=env, cwd=d.workdir,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def result_lines(d: Deployment) -> list[str]:
    return (d.workdir / "replay.log").read_text().splitlines()


async def converged_sent(bootstrap: str, settings: Settings, sent: int) -> None:
    """The deployment's `all` statistics count `sent` requests, all delivered (so its notifier's
    outcomes were folded too)."""
    for _ in range(240):
        latest = await asyncio.to_thread(latest_snapshots, bootstrap, RATING_STATS.full_name(settings))
        every = latest.get("all")
        if every is not None and every.requests_sent == sent and every.requests_delivered == sent:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{settings.topic_prefix}: statistics did not reach {sent} sent and delivered: {latest.get('all')!r}")


async def assert_nothing_shared(bootstrap: str, a: Deployment, b: Deployment) -> None:
    prefixes = [a.prefix, b.prefix]
    groups = await asyncio.to_thread(groups_by_topic_prefix, bootstrap, prefixes)
    for d in (a, b):
        other = b if d is a else a
        mine = {g: topics for g, topics in groups.items()
                if g.startswith(d.prefix) or any(t.startswith(d.prefix) for t in topics)}
        # its streams application and the notifier's requests reader consumed (the other roles'
        # topics are empty here: no offsets to commit)
        used = names.groups(d.settings)
        assert {used["streams"], used["notifier requests"]} <= set(mine), sorted(mine)
        assert set(mine) <= set(used.values()), sorted(mine)
        for group, topics in mine.items():
            assert group.startswith(d.prefix), f"{group} reads {d.prefix} topics but is not named from it"
            assert all(t.startswith(d.prefix) for t in topics), f"{group} reads {sorted(topics)}"
            assert not any(t.startswith(other.prefix) for t in topics)
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    existing = {name: meta for name, meta in admin.list_topics(timeout=20).topics.items()}
    owned_a, owned_b = (set(names.owned_topics(d.settings, existing)) for d in (a, b))
    assert not owned_a & owned_b
    for d, owned in ((a, owned_a), (b, owned_b)):
        app_id = names.streams_app_id(d.settings)
        assert app_id == f"{d.prefix}okrate-streams"
        changelog = f"{app_id}-issues-changelog"
        assert changelog in owned
        # each worker keeps its issues in its own changelog: written to, so not a neighbour's
        ends = await asyncio.to_thread(end_offsets, bootstrap, [changelog])
        assert sum(ends.values()) > 0
    # and the folder each worker used is the deployment's own (`var/<deployment>/streams`)
    for d in (a, b):
        assert (d.workdir / names.streams_data_dir(d.settings)).is_dir()
