"""The one way an agent reads a message: decoded, or sent to the dead-letter topic with its
origin; never a silent skip, never a stuck partition."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from schemas.deadletter import dead_letter, dead_letter_message, decode_or_deadletter
from schemas.records import DeadLetter, Record
from schemas.topics import DEADLETTER

if TYPE_CHECKING:
    from faust.types import EventT

    from streams.app import StreamsApp
    from streams.outputs import Output

log = logging.getLogger("okrate.streams")
R = TypeVar("R", bound=Record)


@dataclass(frozen=True)
class Received(Generic[R]):
    record: R
    key: bytes | None
    topic: str
    partition: int
    offset: int


def take(app: StreamsApp, event: EventT, expected: Collection[type[R]], consumer: str,
         outputs: list[Output]) -> Received[R] | None:
    """The record, or None with its dead letter appended to `outputs`."""
    message = event.message
    app.metrics.event(consumer)
    decoded = decode_or_deadletter(
        event.value, key=event.key, topic=message.topic, partition=message.partition,
        offset=message.offset, expected=expected, consumer=consumer,
    )
    if decoded.dead_letter is not None:
        log.warning("%s: %s at %s/%d/%d -> dead letter", consumer, decoded.dead_letter.reason,
                    message.topic, message.partition, message.offset)
        app.metrics.dead_letters.labels(consumer, decoded.dead_letter.reason).inc()
        outputs.append(_letter_output(app, decoded.dead_letter))
        return None
    assert decoded.record is not None
    return Received(decoded.record, event.key, message.topic, message.partition, message.offset)


def refuse(app: StreamsApp, event: EventT, reason: str, error: str, consumer: str, outputs: list[Output]) -> None:
    """A message that decoded but cannot be understood (or made an agent fail)."""
    message = event.message
    log.warning("%s: %s at %s/%d/%d: %s -> dead letter", consumer, reason, message.topic,
                message.partition, message.offset, error)
    letter = dead_letter(event.value, key=event.key, topic=message.topic, partition=message.partition,
                         offset=message.offset, reason=reason, error=error[:2000], consumer=consumer)
    app.metrics.dead_letters.labels(consumer, reason).inc()
    outputs.append(_letter_output(app, letter))


def _letter_output(app: StreamsApp, letter: DeadLetter) -> Output:
    key, value = dead_letter_message(letter)
    return (app.topic.name_of(DEADLETTER), key, value)


async def receive(app: StreamsApp, event: EventT, expected: Collection[type[R]], consumer: str) -> Received[R] | None:
    """`take` for agents that send with Faust (the statistics): the dead letter sent at once."""
    letters: list[Output] = []
    received = take(app, event, expected, consumer, letters)
    await _send(app, letters)
    return received


async def reject(app: StreamsApp, event: EventT, reason: str, error: str, consumer: str) -> None:
    letters: list[Output] = []
    refuse(app, event, reason, error, consumer, letters)
    await _send(app, letters)


async def _send(app: StreamsApp, letters: list[Output]) -> None:
    for _topic, key, value in letters:
        await app.deadletter.send(key=key, value=value, force=True)
