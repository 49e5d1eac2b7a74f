"""The notifier's views of two compacted topics, read from their beginning on start and followed:

- `bot.state`: where each chat is in a conversation (`ConversationState`, key `chat:<id>`) and
  the link invites (`LinkInvite`, key `invite:<token>`). The notifier is the only writer of chat
  states (one instance per bot), so once it has caught up its own memory is the truth and later
  chat records it reads back are its own; invites also come from `okrate link invite`.
- `contact.links`: who is linked to which contact (written by operators, the import, and the
  bot itself), so that the bot knows whether a user is linked and as which contact.

A restart in the middle of a conversation loses nothing: the step is in `bot.state`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from base.publisher import KafkaPublisher, PublishFailed
from base.topic_reader import watermarks
from notifier.telegram import limits
from schemas.codec import DecodeError, decode, encode
from schemas.keys import contact_key, conversation_key, invite_key
from schemas.records import ContactLink, ConversationState, LinkInvite, Record, utc_now

log = logging.getLogger("okrate.notifier.state")

IDLE = "idle"
KEPT_DATA = ("lang", "last_update", *limits.KEPT_DATA)


class TopicFollower:
    """Reads every partition of a topic from its beginning, in a thread of its own, and hands each
    record to `apply` on the event loop; `caught_up` is set once everything that was in the topic
    at start has been applied. No consumer group: nothing is committed."""

    def __init__(self, bootstrap: str, topic: str, carries: tuple[type[Record], ...],
                 apply: Callable[[Record], None], name: str, group: str | None = None):
        self.bootstrap, self.topic, self.carries, self.apply, self.name = bootstrap, topic, carries, apply, name
        # It assigns partitions itself and commits nothing; the id is the deployment's all the same.
        self.group = group or f"okrate-follow-{name}"
        self.caught_up = asyncio.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    async def start(self, timeout: float = 60.0) -> None:
        loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, args=(loop,), name=f"follow-{self.name}", daemon=True)
        self._thread.start()
        waiter = asyncio.create_task(self.caught_up.wait())
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            raise TimeoutError(self.error or f"{self.topic}: not read to its end within {timeout:g}s") from None
        if self.error:
            raise self.error

    async def stop(self) -> None:
        self._stop.set()
        if self._thread:
            await asyncio.to_thread(self._thread.join, 10)

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.group,
                             "enable.auto.commit": False, "log_level": 3, "fetch.wait.max.ms": 100})
        try:
            meta = consumer.list_topics(self.topic, timeout=30).topics[self.topic]
            if meta.error is not None:
                raise KafkaException(meta.error)
            ends: dict[int, int] = {}
            for p in meta.partitions:
                low, high = watermarks(consumer, self.topic, p, 30)
                if high > low:
                    ends[p] = high
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in meta.partitions])
        except BaseException as exc:
            self.error = exc
            loop.call_soon_threadsafe(self.caught_up.set)
            consumer.close()
            return
        batch: list[bytes] = []
        caught_up = not ends
        if caught_up:
            loop.call_soon_threadsafe(self._apply_all, [], True)
        try:
            while not self._stop.is_set():
                msg = consumer.poll(0.2)
                if msg is not None and not msg.error():
                    batch.append(msg.value())
                    if not caught_up and msg.offset() + 1 >= ends.get(msg.partition(), 0):
                        ends.pop(msg.partition(), None)
                        if not ends:
                            caught_up = True
                            loop.call_soon_threadsafe(self._apply_all, batch, True)
                            batch = []
                            continue
                if batch and ((caught_up and (msg is None or len(batch) >= 500)) or len(batch) >= 5000):
                    loop.call_soon_threadsafe(self._apply_all, batch, False)
                    batch = []
        except Exception:
            log.exception("%s: the follower failed", self.name)
        finally:
            consumer.close()

    def _apply_all(self, values: list[bytes], caught_up: bool) -> None:
        for value in values:
            if value is None:
                continue
            try:
                record = decode(value, self.carries)
            except DecodeError as exc:
                log.warning("%s: skipping an undecodable record: %s", self.topic, exc)
                continue
            try:
                self.apply(record)
            except Exception:
                log.exception("%s: could not apply %s", self.topic, type(record).__name__)
        if caught_up:
            self.caught_up.set()


async def publish_record(publisher: KafkaPublisher, topic: str, key: bytes, record: Record) -> None:
    delay = 0.5
    while True:
        try:
            await publisher.publish(topic, key, encode(record), timeout=30)
            return
        except PublishFailed as exc:
            log.warning("could not write %s to %s: %s; retrying", type(record).__name__, topic, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


class BotState:
    """Conversation steps by chat, and link invites by token (`bot.state`)."""

    def __init__(self, publisher: KafkaPublisher | None = None, topic: str = ""):
        self.publisher, self.topic = publisher, topic
        self.chats: dict[int, ConversationState] = {}
        self.invites: dict[str, LinkInvite] = {}
        self.caught_up = False

    def apply(self, record: Record) -> None:
        if isinstance(record, LinkInvite):
            current = self.invites.get(record.token)
            if current is None or current.used_at is None:  # a used invite stays used
                self.invites[record.token] = record
        elif isinstance(record, ConversationState) and not self.caught_up:
            self.chats[record.chat_id] = record  # after catching up, memory is the truth

    def chat(self, chat_id: int) -> ConversationState | None:
        return self.chats.get(chat_id)

    def step(self, chat_id: int, now: datetime | None = None) -> str:
        """The chat's current step; a step past its `expires_at` is idle again."""
        state = self.chats.get(chat_id)
        if state is None:
            return IDLE
        if state.expires_at is not None and state.expires_at <= (now or utc_now()):
            return IDLE
        return state.step

    def language(self, chat_id: int | None) -> str | None:
        """The user's Telegram language_code, as last seen in an update from that chat."""
        state = self.chats.get(chat_id) if chat_id is not None else None
        return state.data.get("lang") if state is not None else None

    async def save_chat(self, state: ConversationState) -> None:
        self.chats[state.chat_id] = state
        if self.publisher is not None:
            await publish_record(self.publisher, self.topic, conversation_key(state.chat_id), state)

    async def set_step(self, chat_id: int, step: str, *, user_id: int | None = None, request_id: str | None = None,
                       data: dict[str, str] | None = None, ttl: timedelta | None = None,
                       publish: bool = True) -> ConversationState:
        """Enters `step`, keeping what the chat's data says about the user (language, last update,
        what the per-user limits count)."""
        now = utc_now()
        current = self.chats.get(chat_id)
        keep = {k: v for k, v in (current.data if current else {}).items() if k in KEPT_DATA}
        state = ConversationState(
            chat_id=chat_id, user_id=user_id if user_id is not None else (current.user_id if current else None),
            step=step, request_id=request_id, data={**keep, **(data or {})}, updated_at=now,
            expires_at=now + ttl if ttl else None,
        )
        if publish:
            await self.save_chat(state)
        else:
            self.chats[chat_id] = state
        return state

    async def save_invite(self, invite: LinkInvite) -> None:
        self.invites[invite.token] = invite
        if self.publisher is not None:
            await publish_record(self.publisher, self.topic, invite_key(invite.token), invite)

    async def use_invite(self, invite: LinkInvite, user_id: int) -> LinkInvite:
        used = replace(invite, used_at=utc_now(), used_by_user_id=user_id)
        await self.save_invite(used)
        return used


class LinksView:
    """The latest `ContactLink` of every contact, and the contacts linked to each Telegram user."""

    def __init__(self, publisher: KafkaPublisher | None = None, topic: str = ""):
        self.publisher, self.topic = publisher, topic
        self.latest: dict[str, ContactLink] = {}
        self._by_user: dict[int, set[str]] = {}

    def apply(self, record: Record) -> None:
        if not isinstance(record, ContactLink):
            return
        current = self.latest.get(record.contact_id)
        if current is not None and record.changed_at < current.changed_at:
            return  # our own write, read back after a newer one
        if current is not None and current.telegram_user_id is not None:
            self._by_user.get(current.telegram_user_id, set()).discard(record.contact_id)
        self.latest[record.contact_id] = record
        if record.state == "linked" and record.telegram_user_id is not None:
            self._by_user.setdefault(record.telegram_user_id, set()).add(record.contact_id)

    def contacts_of(self, user_id: int) -> list[str]:
        """Contacts linked to this user, the most recently linked first."""
        ids = self._by_user.get(user_id, set())
        return sorted(ids, key=lambda c: self.latest[c].changed_at, reverse=True)

    async def write(self, record: ContactLink) -> None:
        self.apply(record)
        if self.publisher is not None:
            await publish_record(self.publisher, self.topic, contact_key(record.contact_id), record)
