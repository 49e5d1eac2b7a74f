"""The notifier against a real broker and the two stand-ins: records are fed straight into the
topics (no Faust app), the user's side is played on the Bot API stand-in."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from notifier.service import Notifier, Tuning
from sandbox.okdesk_api import RunningOkdesk, running_okdesk
from sandbox.okdesk_state import OkdeskState
from sandbox.telegram_api import RunningTelegram, running_telegram
from sandbox.telegram_state import TelegramState
from schemas.codec import decode
from schemas.keys import issue_key
from schemas.records import (
    RatingRecorded,
    RatingRejected,
    RatingRequested,
    SideEffectIntent,
    SideEffectOutcome,
)
from schemas.topics import NOTIFIER_OUTCOMES, RATING_RECORDED, RATING_REQUESTED
from tests.kafka_helpers import read_topic
from tests.streams_harness import Feeder

ROOT = Path(__file__).resolve().parents[2]
FAST = Tuning(long_poll=5, probe=0.5, standby_retry=2.0, okdesk_backoff_base=0.2, okdesk_backoff_cap=1.0)
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
async def tg() -> AsyncIterator[RunningTelegram]:
    async with running_telegram(TelegramState()) as running:
        yield running


@pytest.fixture
async def okdesk() -> AsyncIterator[RunningOkdesk]:
    async with running_okdesk(OkdeskState()) as running:
        yield running


@pytest.fixture
def nsettings(settings_for, tg: RunningTelegram, okdesk: RunningOkdesk):
    def make(**overrides):
        values = dict(
            telegram_bot_token=tg.token, telegram_api_url=tg.base_url,
            okdesk_api_url=okdesk.api_url, okdesk_api_token=okdesk.api_token, okdesk_author_id=1,
            okdesk_portal_url="https://acme.okdesk.ru",
            okdesk_sweep_every="off",  # the sweep's own tests turn it on
        )
        values.update(overrides)
        return settings_for(**values)

    return make


@asynccontextmanager
async def running_notifier(settings, bootstrap: str, tuning: Tuning = FAST) -> AsyncIterator[Notifier]:
    notifier = Notifier(settings, bootstrap, tuning)
    async with notifier.running():
        yield notifier


def request(issue: int | str, n: int = 1, *, user: int | None = 501, chat: int | None = None,
            title: str = "Не печатает принтер", status_name: str = "Решена") -> RatingRequested:
    chat = chat if chat is not None else user
    return RatingRequested(
        event_id=f"ev-{issue}-{n}-{user}", request_id=f"{issue}.0.{n}", issue_id=str(issue), cycle=1,
        requested_at=T0, trigger_partition=0, trigger_offset=n, status_code="completed",
        status_name=status_name, title=title, contact_id="95", deliverable=user is not None,
        recipient_user_id=user, recipient_chat_id=chat, addressed_at=T0,
    )


def recorded(req: RatingRequested, score: int, *, message_id: int | None, update_id: int = 1) -> RatingRecorded:
    return RatingRecorded(
        event_id=f"rec-{req.request_id}", request_id=req.request_id, issue_id=req.issue_id, score=score,
        from_user_id=req.recipient_user_id, chat_id=req.recipient_chat_id, message_id=message_id,
        update_id=update_id, requested_at=T0, pressed_at=T0, title=req.title, contact_id=req.contact_id,
    )


def rejected(req: RatingRequested, reason: str, *, message_id: int | None, update_id: int,
             standing: int | None = None, user: int | None = None) -> RatingRejected:
    return RatingRejected(
        event_id=f"rej-{req.request_id}-{update_id}", request_id=req.request_id, issue_id=req.issue_id,
        reason=reason, score=4, standing_score=standing, from_user_id=user or req.recipient_user_id,
        chat_id=user or req.recipient_chat_id, message_id=message_id, update_id=update_id, pressed_at=T0,
    )


class Feed(Feeder):
    def requested(self, *records) -> None:
        for r in records:
            self.producer.produce(RATING_REQUESTED.full_name(self.settings), key=issue_key(r.issue_id),
                                  value=_encode(r))
        assert self.producer.flush(30) == 0

    def decided(self, *records) -> None:
        for r in records:
            self.producer.produce(RATING_RECORDED.full_name(self.settings), key=issue_key(r.issue_id),
                                  value=_encode(r))
        assert self.producer.flush(30) == 0


def _encode(record):
    from schemas.codec import encode

    return encode(record)


@pytest.fixture
def feed(kafka_bootstrap):
    def make(settings) -> Feed:
        return Feed(settings, kafka_bootstrap)

    return make


def outcomes(bootstrap: str, settings) -> list[SideEffectIntent | SideEffectOutcome]:
    return [decode(r.value) for r in read_topic(bootstrap, NOTIFIER_OUTCOMES.full_name(settings))]


async def outcomes_async(bootstrap: str, settings):
    return await asyncio.to_thread(outcomes, bootstrap, settings)


# -- the notifier as a process (crash tests) --------------------------------------------------


def notifier_env(settings, bootstrap: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "OKDESK_", "TOPIC_"))}
    env.update({
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "TOPIC_PREFIX": settings.topic_prefix,
        "TOPIC_PARTITIONS": str(settings.topic_partitions),
        "TELEGRAM_BOT_TOKEN": settings.telegram_bot_token, "TELEGRAM_API_URL": settings.telegram_api_url,
        "TELEGRAM_MAX_PER_SECOND": str(settings.telegram_max_per_second),
        "TELEGRAM_MAX_PER_CHAT_PER_SECOND": str(settings.telegram_max_per_chat_per_second),
        "LOG_LEVEL": "INFO",
    })
    for name in ("okdesk_api_url", "okdesk_api_token", "okdesk_author_id", "okdesk_portal_url"):
        value = getattr(settings, name)
        if value is not None:
            env[name.upper()] = str(value)
    env["OKDESK_RETRY_FOR"] = f"{int(settings.okdesk_retry_for.total_seconds())}s"
    every = settings.okdesk_sweep_every
    env["OKDESK_SWEEP_EVERY"] = f"{int(every.total_seconds())}s" if every is not None else "off"
    env.update(extra)
    return env


class NotifierProcess:
    def __init__(self, env: dict[str, str], log_path: Path):
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "okrate.cli", "notifier"], cwd=ROOT,
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait(5)
        return self.proc.returncode

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")
