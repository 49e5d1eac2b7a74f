"""`okrate notifier`: wires the parts together.

    Telegram ──getUpdates──▶ Poller ──▶ telegram.updates ──▶ CallbackAnswerer (fast path)
    rating.requested ──▶ requests consumer ──▶ decide ──▶ TelegramSender (per-chat queues, Pacer)
    rating.recorded  ──▶ decisions consumer ──▶ decide ──▶ TelegramSender
                                             └──▶ Writeback (Okdesk comment + rate, scheduled)
    every side effect: intent + outcome on notifier.outcomes (OutcomeLog, rebuilt on start)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass

from ingest.publisher import KafkaPublisher
from notifier import decide
from notifier.bot import make_bot
from notifier.callbacks import CallbackAnswerer
from notifier.consumer import Message, ThreadedConsumer
from notifier.locale import Texts
from notifier.okdesk_client import OkdeskClient
from notifier.outcomes import Recorder, rebuild
from notifier.pace import Pacer
from notifier.polling import Poller
from notifier.sender import TelegramSender
from notifier.writeback import Writeback
from okrate.redact import mask_url
from okrate.settings import Settings
from schemas.codec import DecodeError, decode
from schemas.records import RatingRecorded
from schemas.topics import NOTIFIER_OUTCOMES, RATING_RECORDED, RATING_REQUESTED, TELEGRAM_UPDATES

log = logging.getLogger("okrate.notifier")


@dataclass
class Tuning:
    """Knobs the tests and the benchmark turn; production uses the defaults."""

    long_poll: int = 25
    probe: float = 2.0
    standby_retry: float = 30.0
    callback_max_age: float = 10.0
    okdesk_backoff_base: float = 1.0
    okdesk_backoff_cap: float = 300.0


def group_id(settings: Settings, role: str) -> str:
    return f"{settings.topic_prefix}okrate-notifier-{role}"


class Notifier:
    def __init__(self, settings: Settings, bootstrap: str, tuning: Tuning | None = None):
        self.settings = settings
        self.bootstrap = bootstrap
        self.tuning = tuning or Tuning()
        self.texts = Texts.load(settings.bot_locale, settings.bot_texts_dir)
        self.bot = make_bot(settings)
        self.publisher = KafkaPublisher(bootstrap)
        self.pacer = Pacer(settings.telegram_max_per_second, settings.telegram_max_per_chat_per_second)
        self.ctx = decide.Context(self.texts, settings.okdesk_portal_url)
        self.poller: Poller | None = None
        self.consumers: list[ThreadedConsumer] = []
        self.okdesk: OkdeskClient | None = None
        self.writeback: Writeback | None = None
        self.sender: TelegramSender | None = None
        self.callbacks = CallbackAnswerer(self.bot, self.texts, self.tuning.callback_max_age)
        self._poll_task: asyncio.Task | None = None
        self.started = asyncio.Event()

    async def start(self) -> None:
        s = self.settings
        if s.telegram_webhook_url:
            await self.bot.set_webhook(s.telegram_webhook_url, secret_token=s.telegram_webhook_secret)
            log.info("webhook mode: Telegram delivers updates to %s", mask_url(s.telegram_webhook_url))
        else:
            assert s.telegram_bot_token
            self.poller = Poller(s.telegram_api_url, s.telegram_bot_token, self.publisher,
                                 TELEGRAM_UPDATES.full_name(s), long_poll=self.tuning.long_poll,
                                 probe=self.tuning.probe, standby_retry=self.tuning.standby_retry)
            self._poll_task = asyncio.create_task(self.poller.run(), name="poller")
            waiter = asyncio.create_task(self.poller.active.wait())
            await asyncio.wait([waiter, self._poll_task], return_when=asyncio.FIRST_COMPLETED)
            if self._poll_task.done():
                waiter.cancel()
                self._poll_task.result()  # raises what stopped it (e.g. 401)
        # Active: only now is the log read, so that it includes everything a predecessor did.
        outcomes_log = await asyncio.to_thread(rebuild, self.bootstrap, NOTIFIER_OUTCOMES.full_name(s))
        recorder = Recorder(self.publisher, NOTIFIER_OUTCOMES.full_name(s), outcomes_log)
        self.outcomes = outcomes_log
        self.sender = TelegramSender(self.bot, self.pacer, recorder, outcomes_log)
        if s.okdesk_api_url:
            self.okdesk = OkdeskClient(s.okdesk_api_url, s.okdesk_api_token)
            self.writeback = Writeback(
                self.okdesk, recorder, outcomes_log, self.texts, author_id=s.okdesk_author_id,
                public=s.okdesk_comment_public, native_rate=s.okdesk_set_native_rate,
                retry_for=s.okdesk_retry_for.total_seconds(), timezone=s.stats_timezone,
                backoff_base=self.tuning.okdesk_backoff_base, backoff_cap=self.tuning.okdesk_backoff_cap,
            )
            self.writeback.resume_pending()
        else:
            log.warning("OKDESK_API_URL is not set: ratings are not written back to Okdesk")
        self.consumers = [
            ThreadedConsumer(self.bootstrap, TELEGRAM_UPDATES.full_name(s), group_id(s, "callbacks"),
                             self.callbacks.handle, name="callbacks"),
            ThreadedConsumer(self.bootstrap, RATING_REQUESTED.full_name(s), group_id(s, "requests"),
                             self._on_request, name="requests"),
            ThreadedConsumer(self.bootstrap, RATING_RECORDED.full_name(s), group_id(s, "decisions"),
                             self._on_decision, name="decisions"),
        ]
        for consumer in self.consumers:
            await consumer.start()
        self.started.set()
        log.info("notifier running")

    def _on_request(self, msg: Message):
        try:
            record = decode(msg.value, RATING_REQUESTED.carries)
        except DecodeError as exc:
            log.warning("rating.requested %d:%d: %s", msg.partition, msg.offset, exc)
            return None
        assert self.sender is not None
        actions = decide.request_actions(record, self.ctx, self.sender.deliveries(record.request_id))
        if not actions:
            return None
        return asyncio.gather(*(self.sender.submit(a) for a in actions))

    def _on_decision(self, msg: Message):
        try:
            record = decode(msg.value, RATING_RECORDED.carries)
        except DecodeError as exc:
            log.warning("rating.recorded %d:%d: %s", msg.partition, msg.offset, exc)
            return None
        assert self.sender is not None
        work = [self.sender.submit(a) for a in
                decide.decision_actions(record, self.ctx, self.sender.deliveries(record.request_id))]
        if isinstance(record, RatingRecorded) and self.writeback is not None:
            work.append(asyncio.ensure_future(self.writeback.accept(record)))
        return asyncio.gather(*work) if work else None

    async def stop(self) -> None:
        if self._poll_task:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._poll_task
        for consumer in self.consumers:
            await consumer.stop()
        await self.pacer.close()
        if self.writeback:
            await self.writeback.close()
        if self.okdesk:
            await self.okdesk.close()
        await self.publisher.close(10)
        await self.bot.session.close()

    @contextlib.asynccontextmanager
    async def running(self):
        try:
            await self.start()
            yield self
        finally:
            await self.stop()


async def serve(settings: Settings, bootstrap: str) -> None:
    notifier = Notifier(settings, bootstrap)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    start = asyncio.create_task(notifier.start())
    try:
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([start, stopper], return_when=asyncio.FIRST_COMPLETED)
        if start.done():
            start.result()
            await stopper
        else:
            start.cancel()
    finally:
        await notifier.stop()
