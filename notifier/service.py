"""`okrate notifier`: wires the parts together.

    Telegram ──getUpdates──▶ Poller ──▶ telegram.updates ──▶ CallbackAnswerer (the press's answer:
                                                             its decision from rating.recorded, or neutral)
    rating.requested ──▶ requests consumer ──▶ decide ──▶ TelegramSender (per-chat queues, Pacer)
    rating.recorded  ──▶ decisions consumer ──▶ decide ──▶ TelegramSender
                                             ├──▶ Writeback (Okdesk comment + rate, reasons; scheduled)
                                             └──▶ Alerter (low ratings to ALERT_CHAT_ID, batched)
    telegram.updates ──▶ ConversationRunner (aiogram routers: linking, stop, new issue, reasons)
                           ├──▶ contact.links (LinksView), bot.state (BotState), rating.received
                           └──▶ IssueCreator (POST /issues/, once)
    quiet hours: requests and reminders scheduled for their end (QuietScheduler)
    every side effect: intent + outcome on notifier.outcomes (OutcomeLog, rebuilt on start)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiohttp import web

from base.names import group, notifier_group
from base.publisher import KafkaPublisher
from base.redact import mask_url
from base.settings import Settings
from notifier import decide
from notifier.consumer import Message, ThreadedConsumer
from notifier.conversations import AWAITING_REASON, STEP_TTL, ConversationRunner, Services
from notifier.health import create_health_app
from notifier.locale import Texts, TextsError
from notifier.okdesk.client import OkdeskClient
from notifier.okdesk.issue_create import IssueCreator
from notifier.okdesk.sweep import Sweep
from notifier.okdesk.writeback import Writeback
from notifier.outcomes.log import Recorder, rebuild
from notifier.telegram.alerts import Alerter
from notifier.telegram.bot import make_bot
from notifier.telegram.bot_state import IDLE, BotState, LinksView, TopicFollower
from notifier.telegram.callbacks import CallbackAnswerer
from notifier.telegram.limits import UserLimits
from notifier.telegram.pace import Pacer
from notifier.telegram.polling import Poller
from notifier.telegram.press_answers import PressDecisions
from notifier.telegram.quiet_hours import QuietHours
from notifier.telegram.scheduled import QuietScheduler
from notifier.telegram.sender import TelegramSender
from schemas.codec import DecodeError, decode
from schemas.records import (
    ContactLink,
    ConversationState,
    LinkInvite,
    RatingClosed,
    RatingExpired,
    RatingRecorded,
    RatingReminder,
    RatingRequested,
    ReasonRecorded,
    utc_now,
)
from schemas.topics import (
    BOT_STATE,
    CONTACT_LINKS,
    NOTIFIER_OUTCOMES,
    OKDESK_EVENTS,
    RATING_RECEIVED,
    RATING_RECORDED,
    RATING_REQUESTED,
    TELEGRAM_UPDATES,
)

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
    okdesk_page_size: int = 100  # `/issues/list` pages (Okdesk's largest)
    conversation_max_age: float = 86_400.0  # older updates are not answered (a reprocess stays silent)
    clock: Callable[[], datetime] = field(default=utc_now)  # what time it is, for quiet hours and the limits
    quiet_recheck: float = 60.0  # how often a request held for quiet hours reads the clock again


def user_limits(settings: Settings) -> UserLimits:
    return UserLimits(new_issues_per_day=settings.bot_new_issues_per_day,
                      phone_links_per_hour=settings.bot_phone_links_per_hour,
                      reason_max_chars=settings.bot_reason_max_chars,
                      reasons_per_request=settings.bot_reasons_per_request, timezone=settings.stats_timezone)


def group_id(settings: Settings, role: str) -> str:
    """The consumer group of one of the notifier's roles: `<TOPIC_PREFIX>okrate-notifier-<role>`."""
    return notifier_group(settings, role)


class Notifier:
    def __init__(self, settings: Settings, bootstrap: str, tuning: Tuning | None = None):
        if problem := settings.author_missing():
            raise ValueError(problem)
        self.settings = settings
        self.bootstrap = bootstrap
        self.tuning = tuning or Tuning()
        self.texts = Texts.load(settings.bot_locale, settings.bot_texts_dir)
        self.bot = make_bot(settings)
        self.publisher = KafkaPublisher(bootstrap)
        self.pacer = Pacer(settings.telegram_max_per_second, settings.telegram_max_per_chat_per_second)
        self.quiet = QuietHours.parse(settings.quiet_hours, settings.stats_timezone)
        self.state = BotState(self.publisher, BOT_STATE.full_name(settings))
        self.links = LinksView(self.publisher, CONTACT_LINKS.full_name(settings))
        self.ctx = decide.Context(self.texts, settings.okdesk_portal_url, reasons=tuple(settings.rating_reasons),
                                  language=self.state.language)
        self.followers: list[TopicFollower] = []
        self.creator: IssueCreator | None = None
        self.alerter: Alerter | None = None
        self.scheduler: QuietScheduler | None = None
        self.conversations: ConversationRunner | None = None
        self.poller: Poller | None = None
        self.consumers: list[ThreadedConsumer] = []
        self.okdesk: OkdeskClient | None = None
        self.writeback: Writeback | None = None
        self.sweep: Sweep | None = None
        self._sweep_task: asyncio.Task | None = None
        self.sender: TelegramSender | None = None
        self.presses = PressDecisions()
        self.callbacks = CallbackAnswerer(self.bot, self.texts, self.tuning.callback_max_age, decisions=self.presses,
                                          wait=settings.telegram_press_answer_wait.total_seconds())
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
        outcomes_log = await asyncio.to_thread(rebuild, self.bootstrap, NOTIFIER_OUTCOMES.full_name(s),
                                               group(s, "notifier-rebuild"))
        recorder = Recorder(self.publisher, NOTIFIER_OUTCOMES.full_name(s), outcomes_log)
        self.outcomes = outcomes_log
        self.sender = TelegramSender(self.bot, self.pacer, recorder, outcomes_log)
        self.followers = [
            TopicFollower(self.bootstrap, BOT_STATE.full_name(s), (ConversationState, LinkInvite),
                          self.state.apply, "bot-state", group(s, "follow-bot-state")),
            TopicFollower(self.bootstrap, CONTACT_LINKS.full_name(s), (ContactLink,), self.links.apply,
                          "contact-links", group(s, "follow-contact-links")),
        ]
        await asyncio.gather(*(f.start() for f in self.followers))
        self.state.caught_up = True  # from now on the notifier's memory is the conversations' truth
        if s.alert_chat_id is not None:
            self.alerter = Alerter(self.sender, self.pacer, outcomes_log, self.texts, chat_id=s.alert_chat_id,
                                   max_score=s.alert_max_score, portal_url=s.okdesk_portal_url)
        if self.quiet is not None:
            self.scheduler = QuietScheduler(self.quiet, recorder, outcomes_log, self._send_requested,
                                            clock=self.tuning.clock, recheck=self.tuning.quiet_recheck)
            self.scheduler.resume_pending()
        if s.okdesk_api_url:
            self.okdesk = OkdeskClient(s.okdesk_api_url, s.okdesk_api_token, page_size=self.tuning.okdesk_page_size)
            self.writeback = Writeback(
                self.okdesk, recorder, outcomes_log, self.texts, author_id=s.okdesk_author_id,
                public=s.okdesk_comment_public, native_rate=s.okdesk_set_native_rate,
                retry_for=s.okdesk_retry_for.total_seconds(), timezone=s.stats_timezone,
                backoff_base=self.tuning.okdesk_backoff_base, backoff_cap=self.tuning.okdesk_backoff_cap,
            )
            self.writeback.resume_pending()
            self.creator = IssueCreator(
                self.okdesk, recorder, outcomes_log, self.sender, self.texts, portal_url=s.okdesk_portal_url,
                retry_for=s.okdesk_retry_for.total_seconds(), backoff_base=self.tuning.okdesk_backoff_base,
                backoff_cap=self.tuning.okdesk_backoff_cap,
            )
            self.creator.resume_pending()
            if s.okdesk_sweep_every is not None:
                self.sweep = Sweep(
                    self.okdesk, self.publisher, OKDESK_EVENTS.full_name(s), recorder, outcomes_log,
                    statuses=s.rating_statuses, every=s.okdesk_sweep_every, since=s.okdesk_sweep_since,
                    backoff_base=self.tuning.okdesk_backoff_base, backoff_cap=self.tuning.okdesk_backoff_cap,
                )
                self._sweep_task = asyncio.create_task(self.sweep.run(), name="sweep")
        else:
            log.warning("OKDESK_API_URL is not set: ratings are not written back to Okdesk, "
                        "the bot can neither link by phone nor create issues")
        self.conversations = ConversationRunner(self.bot, Services(
            texts=self.texts, state=self.state, links=self.links, sender=self.sender, okdesk=self.okdesk,
            creator=self.creator, publisher=self.publisher, received_topic=RATING_RECEIVED.full_name(s),
            portal_url=s.okdesk_portal_url, reasons=tuple(s.rating_reasons), invite_ttl=s.link_invite_ttl,
            limits=user_limits(s), clock=self.tuning.clock,
        ), max_age=self.tuning.conversation_max_age)
        self.consumers = [
            ThreadedConsumer(self.bootstrap, TELEGRAM_UPDATES.full_name(s), group_id(s, "callbacks"),
                             self.callbacks.handle, name="callbacks"),
            ThreadedConsumer(self.bootstrap, RATING_REQUESTED.full_name(s), group_id(s, "requests"),
                             self._on_request, name="requests"),
            ThreadedConsumer(self.bootstrap, RATING_RECORDED.full_name(s), group_id(s, "decisions"),
                             self._on_decision, name="decisions"),
            ThreadedConsumer(self.bootstrap, TELEGRAM_UPDATES.full_name(s), group_id(s, "conversations"),
                             self.conversations.handle, name="conversations"),
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
        if self.scheduler is not None:
            if isinstance(record, RatingRequested | RatingReminder):
                release = self.scheduler.release_at()
                if release is not None and self._has_work(record):
                    return self.scheduler.schedule(record, release)  # the offset goes on at once
            elif isinstance(record, RatingExpired | RatingClosed):
                return asyncio.gather(self.scheduler.cancel(record), self._send_requested(record))
        return self._send_requested(record)

    def _has_work(self, record) -> bool:
        assert self.sender is not None
        actions = decide.request_actions(record, self.ctx, self.sender.deliveries(record.request_id))
        return any(decide.telegram_plan(self.sender.log.get(a.key)) != "skip" for a in actions)

    def _send_requested(self, record):
        assert self.sender is not None
        actions = decide.request_actions(record, self.ctx, self.sender.deliveries(record.request_id))
        return asyncio.gather(*(self.sender.submit(a) for a in actions))

    def _on_decision(self, msg: Message):
        try:
            record = decode(msg.value, RATING_RECORDED.carries)
        except DecodeError as exc:
            log.warning("rating.recorded %d:%d: %s", msg.partition, msg.offset, exc)
            return None
        assert self.sender is not None
        self.presses.note(record)  # a press waiting for its answer gets it now
        work = []
        for action in decide.decision_actions(record, self.ctx, self.sender.deliveries(record.request_id)):
            sent = self.sender.submit(action)
            if action.kind == decide.KIND["reasons"]:
                sent = asyncio.ensure_future(self._await_reason(action, sent))
            work.append(sent)
        if isinstance(record, RatingRecorded | ReasonRecorded):
            if self.writeback is not None:
                work.append(asyncio.ensure_future(self.writeback.accept(record)))
            if self.alerter is not None and (alert := self.alerter.add(record)) is not None:
                work.append(alert)
        return asyncio.gather(*work) if work else None

    async def _await_reason(self, action: decide.TelegramAction, sent: asyncio.Future) -> None:
        """Once «what went wrong?» is shown, the chat waits for an optional free-text reason
        (unless the user is in the middle of something else)."""
        status = await sent
        if status not in (decide.OK, decide.POSSIBLE_DUPLICATE):
            return
        if self.state.step(action.chat_id) not in (IDLE, AWAITING_REASON):
            return
        await self.state.set_step(action.chat_id, AWAITING_REASON, user_id=action.user_id,
                                  request_id=action.request_id, data={"issue_id": action.issue_id or ""},
                                  ttl=STEP_TTL.get(AWAITING_REASON, timedelta(days=1)))

    async def stop(self) -> None:
        if self._poll_task:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._poll_task
        for consumer in self.consumers:
            await consumer.stop()
        for follower in self.followers:
            await follower.stop()
        await self.pacer.close()
        if self._sweep_task:
            self._sweep_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sweep_task
        if self.scheduler:
            await self.scheduler.close()
        if self.creator:
            await self.creator.close()
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
    try:
        notifier = Notifier(settings, bootstrap)
    except TextsError as exc:  # BOT_TEXTS_DIR: the file and the line, and no start
        log.error("BOT_TEXTS_DIR: %s", exc)
        raise SystemExit(f"okrate notifier: the texts cannot be used: {exc}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    health = web.AppRunner(create_health_app(notifier), access_log=None)
    await health.setup()
    try:
        await web.TCPSite(health, settings.notifier_host, settings.notifier_port).start()
    except OSError as exc:  # a second instance on the same host: it still works, unobserved
        log.warning("NOTIFIER_PORT %d: %s; /healthz and /metrics are not served", settings.notifier_port, exc)
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
        await health.cleanup()
