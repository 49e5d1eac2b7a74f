"""Quiet hours as scheduled work: a rating request or reminder that arrives during QUIET_HOURS is
not held (its offset is committed at once) but written down as an intent on `notifier.outcomes`
(kind `telegram.scheduled`, the record itself in its details, and when it may go) and sent when the
quiet hours end. A restart resumes every scheduled send the log shows unfinished; a request closed
or expired meanwhile is not sent at all (the scheduled send gets the outcome `cancelled`)."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from notifier import decide
from notifier.outcomes.log import OutcomeLog, Recorder
from notifier.telegram.quiet_hours import QuietHours
from schemas.codec import DecodeError, decode, encode
from schemas.records import (
    RatingClosed,
    RatingExpired,
    RatingReminder,
    RatingRequested,
    Record,
    utc_now,
)

log = logging.getLogger("okrate.notifier.scheduled")

SCHEDULED = "telegram.scheduled"
CANCELLED = "cancelled"


def scheduled_key(record: RatingRequested | RatingReminder) -> str:
    return f"{record.request_id}:scheduled:{record.event_id}"


class QuietScheduler:
    def __init__(self, quiet: QuietHours, recorder: Recorder, outcome_log: OutcomeLog,
                 run: Callable[[Record], Awaitable[object]], clock: Callable[[], datetime] = utc_now,
                 recheck: float = 60.0):
        self.quiet, self.recorder, self.log, self.run, self.clock = quiet, recorder, outcome_log, run, clock
        self.recheck = recheck  # the clock is read again at least this often (a corrected clock, a test's)
        self._timers: dict[str, asyncio.Task] = {}

    def release_at(self) -> datetime | None:
        return self.quiet.release_at(self.clock())

    async def schedule(self, record: RatingRequested | RatingReminder, release: datetime) -> None:
        """Writes the scheduled send down (once) and sets its timer."""
        key = scheduled_key(record)
        entry = self.log.get(key)
        if entry is not None and (entry.status is not None or key in self._timers):
            return
        if entry is None:
            await self.recorder.intent(
                key=key, kind=SCHEDULED, issue_id=record.issue_id, request_id=record.request_id,
                user_id=record.recipient_user_id, chat_id=record.recipient_chat_id,
                details={"record": base64.b64encode(encode(record)).decode(), "release_at": release.isoformat()},
            )
        self._arm(key, record, release)

    async def cancel(self, record: RatingExpired | RatingClosed) -> None:
        """A request closed or expired before its scheduled send: it is not sent."""
        for entry in self.log.pending(SCHEDULED):
            if entry.request_id == record.request_id:
                timer = self._timers.pop(entry.key, None)
                if timer is not None:
                    timer.cancel()
                await self.recorder.outcome(key=entry.key, kind=SCHEDULED, status=CANCELLED, issue_id=entry.issue_id,
                                            request_id=entry.request_id, details={"by": type(record).__name__})

    def resume_pending(self) -> int:
        count = 0
        for entry in self.log.pending(SCHEDULED):
            if entry.key in self._timers:
                continue
            try:
                record = decode(base64.b64decode(entry.intent_details["record"]), (RatingRequested, RatingReminder))
                release = datetime.fromisoformat(entry.intent_details["release_at"])
            except (KeyError, ValueError, DecodeError) as exc:
                log.warning("cannot resume the scheduled send %s: %s", entry.key, exc)
                continue
            self._arm(entry.key, record, release)
            count += 1
        if count:
            log.info("resuming %d sends scheduled for the end of quiet hours", count)
        return count

    @property
    def waiting(self) -> int:
        return len(self._timers)

    async def close(self) -> None:
        for task in self._timers.values():
            task.cancel()
        await asyncio.gather(*self._timers.values(), return_exceptions=True)

    def _arm(self, key: str, record: RatingRequested | RatingReminder, release: datetime) -> None:
        task = asyncio.create_task(self._fire(key, record, release), name=f"quiet-{key}")
        self._timers[key] = task
        task.add_done_callback(lambda t, key=key: self._timers.get(key) is t and self._timers.pop(key, None))

    async def _fire(self, key: str, record: RatingRequested | RatingReminder, release: datetime) -> None:
        while True:  # read the clock again now and then: it may have been corrected (or moved by a test)
            wait = (release - self.clock()).total_seconds()
            if wait <= 0:
                break
            await asyncio.sleep(min(wait, self.recheck))
        await self.run(record)
        await self.recorder.outcome(key=key, kind=SCHEDULED, status=decide.OK, issue_id=record.issue_id,
                                    request_id=record.request_id)
