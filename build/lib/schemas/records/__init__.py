"""Typed records, one frozen dataclass per Avro record (latest version)."""

from schemas.records.base import Record, utc_now
from schemas.records.bot import ConversationState, LinkInvite
from schemas.records.clock import ClockTick
from schemas.records.dead_letter import DeadLetter
from schemas.records.issue import IssueEvent
from schemas.records.links import ContactLink
from schemas.records.notifier import SideEffectIntent, SideEffectOutcome
from schemas.records.rating import (
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
)
from schemas.records.raw import OkdeskWebhookEnvelope, TelegramUpdateEnvelope
from schemas.records.stats import StatsEffects, StatsSnapshot

RECORD_TYPES: tuple[type[Record], ...] = (
    OkdeskWebhookEnvelope,
    TelegramUpdateEnvelope,
    IssueEvent,
    RatingRequested,
    RatingReminder,
    RatingExpired,
    RatingClosed,
    RatingReceived,
    ReasonGiven,
    RatingRecorded,
    RatingRejected,
    ReasonRecorded,
    PortalRatingRecorded,
    SideEffectIntent,
    SideEffectOutcome,
    ContactLink,
    ConversationState,
    LinkInvite,
    StatsSnapshot,
    StatsEffects,
    DeadLetter,
    ClockTick,
)

__all__ = [
    "RECORD_TYPES",
    "ClockTick",
    "ContactLink",
    "ConversationState",
    "DeadLetter",
    "IssueEvent",
    "LinkInvite",
    "OkdeskWebhookEnvelope",
    "PortalRatingRecorded",
    "RatingClosed",
    "RatingExpired",
    "RatingReceived",
    "RatingRecorded",
    "RatingRejected",
    "RatingReminder",
    "RatingRequested",
    "ReasonGiven",
    "ReasonRecorded",
    "Record",
    "SideEffectIntent",
    "SideEffectOutcome",
    "StatsEffects",
    "StatsSnapshot",
    "TelegramUpdateEnvelope",
    "utc_now",
]
