"""The rating written back to Okdesk, once: a comment (with a marker) and Okdesk's own 3-point
rate, each with an idempotency key (request id + step), an intent before and an outcome after.

Retries are scheduled work, not held offsets: once a write's intent is on `notifier.outcomes`
the decision's offset may be committed; the intent carries everything needed to do the write,
so a restart resumes it from the log. An intent without outcome (a crash, or an answer that never
came) is reconciled with Okdesk before anything is written again: the issue's comments are
searched for the marker, the issue's `rate` is read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from notifier import decide, render
from notifier.decide import Entry
from notifier.locale import Texts
from notifier.okdesk.client import OkdeskClient, OkdeskError, as_id, rate_value
from notifier.outcomes.log import OutcomeLog, Recorder
from schemas.records import RatingRecorded, ReasonRecorded

log = logging.getLogger("okrate.notifier.writeback")

COMMENT = "okdesk.comment"
RATE = "okdesk.rate"
REASON = "okdesk.reason"  # a low score's reason, as a comment of its own (one per reason code)
COMMENTS = (COMMENT, REASON)


@dataclass(frozen=True)
class OkdeskWrite:
    key: str
    kind: str
    issue_id: str
    request_id: str
    details: dict[str, str] = field(default_factory=dict)  # content+marker, or rate


@dataclass(frozen=True)
class Result:
    status: str
    comment_id: str | None = None
    http_status: int | None = None
    error: str | None = None
    reconciled: bool = False


def okdesk_writes(rec: RatingRecorded | ReasonRecorded, texts: Texts, *, timezone: str,
                  native_rate: bool) -> list[OkdeskWrite]:
    """What a recorded rating (or a recorded reason) writes to Okdesk (pure). Comments are in the
    service desk's language: BOT_LOCALE, Russian by default."""
    loc = texts.locale_for(None)
    if isinstance(rec, ReasonRecorded):
        code = rec.reason_code or "text"
        return [OkdeskWrite(
            f"{rec.request_id}:{REASON}:{code}", REASON, rec.issue_id, rec.request_id,
            {"content": render.okdesk_reason_comment(rec, texts, loc),
             "marker": render.esc(render.reason_marker(rec.request_id, code))},
        )]
    writes = [OkdeskWrite(
        f"{rec.request_id}:{COMMENT}", COMMENT, rec.issue_id, rec.request_id,
        {"content": render.okdesk_comment(rec, texts, loc, timezone),
         "marker": render.comment_marker(rec.request_id)},
    )]
    if native_rate and 1 <= rec.score <= 5:
        writes.append(OkdeskWrite(f"{rec.request_id}:{RATE}", RATE, rec.issue_id, rec.request_id,
                                  {"rate": render.okdesk_rate(rec.score)}))
    return writes


def write_of(entry: Entry) -> OkdeskWrite | None:
    """The write an intent describes (to resume it after a restart)."""
    if entry.kind not in (*COMMENTS, RATE) or not entry.issue_id or not entry.request_id:
        return None
    return OkdeskWrite(entry.key, entry.kind, entry.issue_id, entry.request_id, dict(entry.intent_details))


def reconciled(write: OkdeskWrite, comments: list[dict] | None = None, issue: dict | None = None) -> Result | None:
    """What Okdesk shows of a write whose outcome is unknown: done (with the comment id) or None.
    `GET /issues/{id}` answers the rate as `{"id": .., "value": "good"}` (a string in webhooks)."""
    if write.kind in COMMENTS:
        marker = write.details.get("marker", "")
        for comment in comments or []:
            if marker and isinstance(comment, dict) and marker in str(comment.get("content") or ""):
                return Result(decide.OK, comment_id=as_id(comment.get("id")), reconciled=True)
        return None
    rate = rate_value((issue or {}).get("rate"))
    if rate is None:
        return None
    if rate == write.details.get("rate"):
        return Result(decide.OK, reconciled=True)
    return Result(decide.FAILED, error=f"the issue is already rated: {rate}", reconciled=True)


class Writeback:
    def __init__(self, client: OkdeskClient, recorder: Recorder, outcome_log: OutcomeLog, texts: Texts, *,
                 author_id: int, public: bool, native_rate: bool, retry_for: float,
                 timezone: str = "Europe/Moscow", concurrency: int = 8, backoff_base: float = 1.0,
                 backoff_cap: float = 300.0):
        self.client = client
        self.recorder = recorder
        self.log = outcome_log
        self.texts = texts
        self.author_id = author_id
        self.public = public
        self.native_rate = native_rate
        self.retry_for = retry_for
        self.timezone = timezone
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: dict[str, asyncio.Task] = {}
        self._accepting: set[str] = set()  # keys whose intent is being recorded

    async def accept(self, rec: RatingRecorded | ReasonRecorded) -> None:
        """Records the intents of a recorded rating's writes and schedules them; returns as soon
        as the intents are stored (the decision's offset may then be committed)."""
        for write in okdesk_writes(rec, self.texts, timezone=self.timezone, native_rate=self.native_rate):
            if write.key in self._tasks or write.key in self._accepting:
                continue
            plan = decide.okdesk_plan(self.log.get(write.key))
            if plan == "skip":
                continue
            # Claimed before the first await: a copy of the same decision (a redelivery, read in the
            # same batch) is accepted concurrently and would otherwise write a second time.
            self._accepting.add(write.key)
            try:
                if plan == "do":
                    await self.recorder.intent(key=write.key, kind=write.kind, issue_id=write.issue_id,
                                               request_id=write.request_id, attempt=1, details=write.details)
                self._schedule(write, reconcile_first=plan == "redo_after_crash")
            finally:
                self._accepting.discard(write.key)

    def resume_pending(self) -> int:
        """Schedules every write the log shows as intended and not finished (after a restart)."""
        count = 0
        for entry in self.log.pending("okdesk."):
            write = write_of(entry)
            if write is not None and write.key not in self._tasks and write.key not in self._accepting:
                self._schedule(write, reconcile_first=True)
                count += 1
        if count:
            log.info("resuming %d Okdesk writes left unfinished", count)
        return count

    @property
    def busy(self) -> int:
        return len(self._tasks)

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def _schedule(self, write: OkdeskWrite, *, reconcile_first: bool) -> None:
        task = asyncio.create_task(self._run(write, reconcile_first), name=f"okdesk-{write.key}")
        self._tasks[write.key] = task
        task.add_done_callback(lambda t, key=write.key: self._tasks.pop(key, None))

    async def _run(self, write: OkdeskWrite, reconcile_first: bool) -> None:
        entry = self.log.get(write.key)
        started = entry.first_intended_at if entry and entry.first_intended_at else time.time()
        attempt = entry.last_attempt if entry and entry.last_attempt else 1  # its intent is recorded
        check = reconcile_first
        while True:
            try:
                async with self._slots:
                    result = await self._reconcile(write) if check else None
                    if result is None:
                        if check:  # a new attempt, with an intent of its own
                            attempt += 1
                            await self.recorder.intent(key=write.key, kind=write.kind, issue_id=write.issue_id,
                                                       request_id=write.request_id, attempt=attempt,
                                                       details=write.details)
                        result = await self._write(write)
            except OkdeskError as exc:
                if not decide.okdesk_retryable(exc.status):
                    result = Result(decide.FAILED, http_status=exc.status, error=exc.errors)
                elif time.time() - started >= self.retry_for:
                    result = Result(decide.FAILED, http_status=exc.status,
                                    error=f"gave up after {attempt} attempts: {exc.errors}")
                else:
                    pause = decide.backoff(attempt, self.backoff_base, self.backoff_cap)
                    pause = max(pause, exc.retry_after or 0.0)
                    pause = min(pause, max(0.0, started + self.retry_for - time.time()) + 0.01)
                    log.info("okdesk %s for issue %s failed (%s); attempt %d in %.1fs",
                             write.kind, write.issue_id, exc, attempt + 1, pause)
                    await asyncio.sleep(pause)
                    check = True  # the failed call may have landed: look before writing again
                    continue
            await self.recorder.outcome(
                key=write.key, kind=write.kind, status=result.status, issue_id=write.issue_id,
                request_id=write.request_id, attempt=attempt, okdesk_comment_id=result.comment_id,
                http_status=result.http_status, error=result.error,
                details={"reconciled": "true"} if result.reconciled else {},
            )
            if result.status != decide.OK:
                log.warning("okdesk %s for issue %s: %s (%s)", write.kind, write.issue_id, result.status, result.error)
            return

    async def _reconcile(self, write: OkdeskWrite) -> Result | None:
        if write.kind in COMMENTS:
            return reconciled(write, comments=await self.client.list_comments(write.issue_id))
        return reconciled(write, issue=await self.client.get_issue(write.issue_id))

    async def _write(self, write: OkdeskWrite) -> Result:
        if write.kind in COMMENTS:
            answer = await self.client.add_comment(write.issue_id, write.details.get("content", ""),
                                                   author_id=self.author_id, public=self.public)
            return Result(decide.OK, comment_id=as_id(answer.get("id")), http_status=200)
        await self.client.rate_issue(write.issue_id, write.details["rate"])
        return Result(decide.OK, http_status=200)
