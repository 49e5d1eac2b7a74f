"""The one way okrate's agents decode: what cannot be decoded becomes a dead letter, never a silent
skip and never a stuck partition. Pure: the caller sends the dead letter (or passes a `send`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from schemas.codec import DecodeError, decode, encode
from schemas.records import DeadLetter, Record, utc_now

R = TypeVar("R", bound=Record)

SendDeadLetter = Callable[[bytes | None, bytes], Awaitable[object]]
"""`send(key, value)`: appends an encoded dead letter to `okrate.deadletter`."""


def dead_letter(
    value: bytes | None,
    *,
    key: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    reason: str,
    error: str,
    consumer: str | None = None,
    source_timestamp: datetime | None = None,
    now: datetime | None = None,
) -> DeadLetter:
    return DeadLetter(
        reason=reason,
        error=error,
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        source_key=bytes(key) if key is not None else None,
        value=bytes(value) if value is not None else None,
        source_timestamp=source_timestamp,
        consumer=consumer,
        failed_at=now or utc_now(),
    )


@dataclass(frozen=True)
class Decoded(Generic[R]):
    """Either the record, or the dead letter to send in its place."""

    record: R | None
    dead_letter: DeadLetter | None


def decode_or_deadletter(
    value: bytes | None,
    *,
    key: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    expected: Collection[type[R]] | None = None,
    consumer: str | None = None,
    source_timestamp: datetime | None = None,
) -> Decoded[R]:
    try:
        return Decoded(decode(value, expected), None)
    except DecodeError as exc:
        letter = dead_letter(
            value, key=key, topic=topic, partition=partition, offset=offset,
            reason=exc.reason, error=str(exc), consumer=consumer, source_timestamp=source_timestamp,
        )
        return Decoded(None, letter)


def dead_letter_message(letter: DeadLetter) -> tuple[bytes | None, bytes]:
    """(key, value) to append to `okrate.deadletter`: keyed by the source key."""
    return letter.source_key, encode(letter)


async def decode_or_send_deadletter(
    value: bytes | None,
    *,
    key: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    send: SendDeadLetter,
    expected: Collection[type[R]] | None = None,
    consumer: str | None = None,
) -> R | None:
    """The record, or None after `send` has appended its dead letter (await it before committing)."""
    decoded = decode_or_deadletter(
        value, key=key, topic=topic, partition=partition, offset=offset,
        expected=expected, consumer=consumer,
    )
    if decoded.dead_letter is not None:
        await send(*dead_letter_message(decoded.dead_letter))
    return decoded.record
