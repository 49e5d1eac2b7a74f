"""The topic catalogue: every topic okrate writes, what it carries, its key, partitions, cleanup
policy and retention. `okrate kafka up` and every service's start create what is missing
(`base.topic_admin.ensure_topics`), and the README's table is rendered from here (`catalogue_markdown`).

Partitions: every okrate topic has `TOPIC_PARTITIONS` partitions (default 8), fixed once. The
topics keyed by issue id must agree so that one issue lands on the same partition number in each
of them; the others (keyed by chat, contact, dimension) follow the same rule so that a topic and
the repartition topic okrate makes to meet it are co-partitioned. Changing the count re-homes keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Protocol

from schemas.records import (
    ClockTick,
    ContactLink,
    ConversationState,
    DeadLetter,
    IssueEvent,
    LinkInvite,
    OkdeskWebhookEnvelope,
    PortalRatingRecorded,
    RatingClosed,
    RatingExpired,
    RatingReceived,
    RatingRecorded,
    RatingRejected,
    RatingReminder,
    RatingRequested,
    ReasonGiven,
    ReasonRecorded,
    Record,
    SideEffectIntent,
    SideEffectOutcome,
    StatsEffects,
    StatsSnapshot,
    TelegramUpdateEnvelope,
)


class Settings(Protocol):
    """What a topic's name and configuration depend on: `base.settings.Settings` is one (the
    contract stays at the bottom of the house and imports nothing above it)."""

    topic_partitions: int
    topic_retention: timedelta

    def topic(self, name: str) -> str: ...

# Raw envelopes hold a webhook body up to WEBHOOK_MAX_BYTES (1 MiB by default) plus metadata, and
# a dead letter holds any message: above the broker's default limit of about 1 MB.
LARGE_MESSAGE_BYTES = 4 * 1024 * 1024
# Repartition topics hold derived data, made again from the event topics by any rebuild.
INTERNAL_RETENTION = timedelta(days=7)


class Cleanup(StrEnum):
    DELETE = "delete"
    COMPACT = "compact"


@dataclass(frozen=True)
class TopicSpec:
    name: str  # without TOPIC_PREFIX
    carries: tuple[type[Record], ...]
    key: str  # what the key is (always raw UTF-8, see schemas.keys)
    description: str
    cleanup: Cleanup = Cleanup.DELETE
    max_message_bytes: int | None = None
    internal_retention: timedelta | None = None  # set: a repartition topic's own retention

    def full_name(self, settings: Settings) -> str:
        return settings.topic(self.name)

    def partitions(self, settings: Settings) -> int:
        return settings.topic_partitions

    def configs(self, settings: Settings) -> dict[str, str]:
        configs = {"cleanup.policy": self.cleanup.value}
        if self.cleanup is Cleanup.DELETE:
            retention = self.internal_retention or settings.topic_retention
            configs["retention.ms"] = str(retention_ms(retention))
        if self.max_message_bytes is not None:
            configs["max.message.bytes"] = str(self.max_message_bytes)
        return configs


def retention_ms(retention: timedelta | None) -> int:
    """`retention.ms` of a retention; None keeps forever (-1)."""
    return -1 if retention is None else int(retention / timedelta(milliseconds=1))


OKDESK_EVENTS = TopicSpec(
    "okdesk.events", (OkdeskWebhookEnvelope,), "issue id",
    "raw webhook envelopes, byte for byte (a body without an issue id gets a stable key of its own), and the sweep's observations of issues read from the API",
    max_message_bytes=LARGE_MESSAGE_BYTES,
)
TELEGRAM_UPDATES = TopicSpec(
    "telegram.updates", (TelegramUpdateEnvelope,), "chat id",
    "raw Telegram update envelopes, by polling or webhook",
    max_message_bytes=LARGE_MESSAGE_BYTES,
)
ISSUE_EVENTS = TopicSpec(
    "issue.events", (IssueEvent,), "issue id", "normalised issue events, one per webhook",
)
RATING_REQUESTED = TopicSpec(
    "rating.requested", (RatingRequested, RatingReminder, RatingExpired, RatingClosed), "issue id",
    "requested, reminder, expired, closed",
)
RATING_RECEIVED = TopicSpec(
    "rating.received", (RatingReceived, ReasonGiven), "issue id",
    "presses as claimed, reasons given",
)
RATING_RECORDED = TopicSpec(
    "rating.recorded", (RatingRecorded, RatingRejected, ReasonRecorded, PortalRatingRecorded),
    "issue id", "recorded, rejected, reasons recorded, portal ratings",
)
NOTIFIER_OUTCOMES = TopicSpec(
    "notifier.outcomes", (SideEffectIntent, SideEffectOutcome), "issue id",
    "side-effect intents and outcomes (an issue not yet created: `new:<update id>`; a conversation's reply: `chat:<id>`)",
)
CONTACT_LINKS = TopicSpec(
    "contact.links", (ContactLink,), "contact id",
    "linked / unlinked / forgotten: a record, never a bare tombstone",
    cleanup=Cleanup.COMPACT,
)
BOT_STATE = TopicSpec(
    "bot.state", (ConversationState, LinkInvite), "`chat:<id>` / `invite:<token>`",
    "conversation steps, link invites", cleanup=Cleanup.COMPACT,
)
RATING_STATS = TopicSpec(
    "rating.stats", (StatsSnapshot,), "dimension", "statistics snapshots, the latest per dimension",
    cleanup=Cleanup.COMPACT,
)
DEADLETTER = TopicSpec(
    "okrate.deadletter", (DeadLetter,), "source key",
    "what could not be decoded or understood, with its origin",
    max_message_bytes=LARGE_MESSAGE_BYTES,
)

CATALOGUE: tuple[TopicSpec, ...] = (
    OKDESK_EVENTS, TELEGRAM_UPDATES, ISSUE_EVENTS, RATING_REQUESTED, RATING_RECEIVED,
    RATING_RECORDED, NOTIFIER_OUTCOMES, CONTACT_LINKS, BOT_STATE, RATING_STATS, DEADLETTER,
)

DECISION_RECORDS: tuple[type[Record], ...] = (
    *ISSUE_EVENTS.carries, *RATING_REQUESTED.carries, *RATING_RECORDED.carries,
    *NOTIFIER_OUTCOMES.carries,
)


def repartition_topic(
    what: str, by: str, *, carries: tuple[type[Record], ...], key: str,
    application: str = "okrate-streams",
) -> TopicSpec:
    """An internal topic that re-keys a stream (`<application>.<what>.by-<by>`). It has the same
    partition count as every other topic, so it is co-partitioned with the topic keyed by the same
    thing; a rebuild into a fresh application passes its own `application`."""
    return TopicSpec(
        f"{application}.{what}.by-{by}", carries, key, f"internal: {what} re-keyed by {by}",
        internal_retention=INTERNAL_RETENTION,
    )


REQUESTS_BY_CONTACT = repartition_topic(
    "requests", "contact", carries=(RatingRequested, RatingClosed), key="contact id",
)
REQUESTS_BY_ISSUE = repartition_topic(
    # An IssueEvent here is a webhook the ingest keyed otherwise than by its issue id (rare).
    "requests", "issue", carries=(RatingRequested, RatingClosed, IssueEvent), key="issue id",
)
CLOCK_TICKS = repartition_topic(
    "ticks", "issue", carries=(ClockTick,), key="issue id",
)
STATS_BY_DIMENSION = repartition_topic(
    "stats", "dimension", carries=(StatsEffects,), key="dimension",
)
INTERNAL_TOPICS: tuple[TopicSpec, ...] = (REQUESTS_BY_CONTACT, REQUESTS_BY_ISSUE, CLOCK_TICKS, STATS_BY_DIMENSION)
ALL_TOPICS: tuple[TopicSpec, ...] = CATALOGUE + INTERNAL_TOPICS


def topic_spec(name: str) -> TopicSpec:
    """The catalogue's entry for a topic name (without prefix)."""
    for spec in ALL_TOPICS:
        if spec.name == name:
            return spec
    raise KeyError(f"{name!r} is not in okrate's topic catalogue")


def carriers_of(record_type: type[Record]) -> list[TopicSpec]:
    return [spec for spec in ALL_TOPICS if record_type in spec.carries]


def catalogue_markdown(topics: Sequence[TopicSpec] = ALL_TOPICS) -> str:
    rows = [
        "| topic | carries (Avro records) | key | partitions | cleanup | retention |",
        "|---|---|---|---|---|---|",
    ]
    for spec in topics:
        carries = ", ".join(f"`{t.__name__}`" for t in spec.carries)
        if spec.cleanup is Cleanup.COMPACT:
            retention = "latest record per key"
        elif spec.internal_retention is not None:
            retention = f"{spec.internal_retention.days} days"
        else:
            retention = "`TOPIC_RETENTION` (default: forever, `retention.ms=-1`)"
        rows.append(
            f"| `{spec.name}` | {carries}: {spec.description} | {spec.key} | "
            f"`TOPIC_PARTITIONS` (default 8) | {spec.cleanup.value} | {retention} |"
        )
    return "\n".join(rows) + "\n"

