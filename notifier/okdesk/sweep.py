"""The sweep: resolutions whose webhook never came, found in the Okdesk API.

Okdesk documents no webhook retry: a resolution made while the ingest is unreachable would be
lost. Every OKDESK_SWEEP_EVERY the active notifier reads the issues resolved since its last sweep
(`GET /issues/list?completed_since=<day>`, sorted by `updated_at`, page by page) and appends each
issue in a final status to `okdesk.events`, as the API answered it, byte for byte, in an envelope
of origin `sweep`. The stream rules decide: an observation starts a cycle only where no webhook
already did, so the repeats that day-granular filters bring (every sweep re-reads today) are free;
the sweep still appends each (issue, completed_at) once per process, so that the log does not grow
by a day's resolutions every few minutes (after a restart, the first sweep appends them again).

Never the account's history: issues completed before the floor (the first start of the sweep
against the account, or OKDESK_SWEEP_SINCE) are skipped. The floor and the position live in
Kafka, on `notifier.outcomes` (key `sweep`, kind `okdesk.sweep`), which the notifier rebuilds when
it becomes active; only the active notifier sweeps (the standby waits), so one sweep runs at a
time. 429, 5xx and no answer are retried with backoff; any other refusal ends that sweep, and the
next one starts from the same position.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from base.publisher import KafkaPublisher, PublishFailed
from notifier import decide
from notifier.okdesk.client import OkdeskClient, OkdeskError, as_id, json_items, query_string
from notifier.outcomes.log import OutcomeLog, Recorder
from schemas.codec import encode
from schemas.keys import issue_key
from schemas.records import OkdeskWebhookEnvelope, utc_now
from schemas.records.raw import SWEEP

log = logging.getLogger("okrate.notifier.sweep")

KEY = "sweep"
KIND = "okdesk.sweep"
MAX_PAGES = 10_000  # a guard against an API that never ends a listing
ORDER = {"sort_field": "updated_at", "direction": "forward"}  # what changes during a walk moves to its end
DAY_MARGIN = timedelta(days=1)  # `completed_since` is a day in the account's time zone: any zone


@dataclass(frozen=True)
class Position:
    floor: datetime  # nothing completed before it is ever asked about
    since: datetime  # the start of the last sweep that finished

    def details(self) -> dict[str, str]:
        return {"floor": self.floor.isoformat(), "since": self.since.isoformat()}

    @classmethod
    def of(cls, details: dict[str, str]) -> Position | None:
        try:
            return cls(datetime.fromisoformat(details["floor"]), datetime.fromisoformat(details["since"]))
        except (KeyError, ValueError):
            return None


def filters(position: Position) -> dict[str, str]:
    """What a sweep asks `/issues/list` for (pure): completed since the day before its position.
    No status filter: unknown codes in RATING_STATUSES must not make Okdesk refuse the call; the
    statuses are checked here."""
    day = max(position.since, position.floor) - DAY_MARGIN
    return {"completed_since": day.strftime("%d-%m-%Y")}


def completed_at(issue: dict[str, Any]) -> datetime | None:
    value = issue.get("completed_at")
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def wanted(issue: dict[str, Any], floor: datetime, statuses: frozenset[str]) -> bool:
    """An issue the sweep appends (pure): an id, a final status, completed at or after the floor."""
    status = issue.get("status")
    code = status.get("code") if isinstance(status, dict) else status
    if as_id(issue.get("id")) is None or not isinstance(code, str) or code.strip().lower() not in statuses:
        return False
    done = completed_at(issue)
    return done is not None and done >= floor


def observation(item: str, issue: dict[str, Any], *, path: str, read_at: datetime, host: str | None) -> OkdeskWebhookEnvelope:
    """The envelope of one observed issue: its text as the API answered it, and where from."""
    issue_id = as_id(issue.get("id"))
    return OkdeskWebhookEnvelope(
        delivery_id=f"sweep-{uuid.uuid4()}", received_at=read_at, body=item.encode("utf-8"), path=path,
        content_type="application/json", remote_addr=host, issue_id=issue_id, origin=SWEEP,
    )


@dataclass
class Figures:
    sweeps: int = 0
    failed: int = 0
    pages: int = 0
    seen: int = 0  # issues the API listed
    appended: int = 0  # observations written to okdesk.events
    known: int = 0  # final issues listed again with the completed_at already appended
    last_at: float | None = None  # when the last sweep finished (epoch seconds)
    last_seen: int = 0
    last_appended: int = 0


class Sweep:
    def __init__(self, client: OkdeskClient, publisher: KafkaPublisher, topic: str, recorder: Recorder,
                 outcomes: OutcomeLog, *, statuses: Iterable[str], every: timedelta, since: datetime | None,
                 backoff_base: float = 1.0, backoff_cap: float = 300.0, publish_timeout: float = 30.0,
                 clock: Callable[[], datetime] = utc_now):
        self.client, self.publisher, self.topic = client, publisher, topic
        self.recorder, self.outcomes = recorder, outcomes
        self.statuses = frozenset(s.lower() for s in statuses)
        self.every, self.since = every, since
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.publish_timeout = publish_timeout
        self.clock = clock
        self.figures = Figures()
        self.host = urlsplit(client.base).hostname
        self._appended: dict[str, datetime | None] = {}  # issue id → the completed_at appended

    def position(self) -> Position | None:
        entry = self.outcomes.get(KEY)
        return Position.of(entry.outcome_details) if entry is not None else None

    async def run(self) -> None:
        """Sweeps every `every`, the first one `every` after the start (or at once when the last
        sweep is older than that)."""
        position = self.position()
        if position is None:
            now = self.clock()
            floor = self.since or now
            position = Position(floor, floor)
            await self._record(position, {"started": "true"})
            log.info("the sweep starts from %s: nothing completed before it is asked about", floor.isoformat())
        while True:
            due = position.since + self.every
            await asyncio.sleep(max(0.0, (due - self.clock()).total_seconds()))
            try:
                position = await self.sweep_once(position)
            except asyncio.CancelledError:
                raise
            except Exception:  # the next sweep starts from the same position
                self.figures.failed += 1
                log.exception("the sweep failed")
                await asyncio.sleep(self.every.total_seconds())

    async def sweep_once(self, position: Position | None = None) -> Position:
        position = position or self.position()
        assert position is not None
        started = self.clock()
        seen = appended = pages = 0
        params = filters(position)
        async for number, answer in self._pages(params):
            pages += 1
            path = "/api/v1/issues/list?" + query_string(self.client.page_params(params, number=number, **ORDER))
            read_at = self.clock()
            items = json_items(answer.text) if isinstance(answer.data, list) else []
            for text, issue in zip(items, answer.data if isinstance(answer.data, list) else [], strict=False):
                if not isinstance(issue, dict):
                    continue
                seen += 1
                if wanted(issue, position.floor, self.statuses):
                    issue_id, done = as_id(issue.get("id")), completed_at(issue)
                    if issue_id in self._appended and self._appended[issue_id] == done:
                        self.figures.known += 1
                        continue
                    await self._append(observation(text, issue, path=path, read_at=read_at, host=self.host))
                    self._appended[issue_id] = done
                    appended += 1
        after = Position(position.floor, started)
        horizon = max(after.since, after.floor) - 2 * DAY_MARGIN  # what the next sweeps no longer list
        self._appended = {k: v for k, v in self._appended.items() if v is not None and v >= horizon}
        f = self.figures
        f.sweeps, f.pages, f.seen, f.appended = f.sweeps + 1, f.pages + pages, f.seen + seen, f.appended + appended
        f.last_at, f.last_seen, f.last_appended = time.time(), seen, appended
        await self._record(after, {"seen": str(seen), "appended": str(appended), "pages": str(pages)})
        log.info("sweep: %d issues listed on %d pages, %d observations appended", seen, pages, appended)
        return after

    async def _pages(self, params: dict[str, str]):
        """The pages, each retried on 429, 5xx and no answer (with backoff and Retry-After)."""
        number = 1
        while number <= MAX_PAGES:
            attempt = 1
            while True:
                try:
                    answer = await self.client.issue_page(params, number=number, **ORDER)
                    break
                except OkdeskError as exc:
                    if not decide.okdesk_retryable(exc.status):
                        raise
                    pause = max(decide.backoff(attempt, self.backoff_base, self.backoff_cap), exc.retry_after or 0.0)
                    log.info("sweep page %d: %s; again in %.1fs", number, exc, pause)
                    await asyncio.sleep(pause)
                    attempt += 1
            yield number, answer
            if not isinstance(answer.data, list) or len(answer.data) < self.client.page_size:
                return
            number += 1

    async def _append(self, envelope: OkdeskWebhookEnvelope) -> None:
        value, key = encode(envelope), issue_key(envelope.issue_id or "")
        delay = 0.5
        while True:
            try:
                await self.publisher.publish(self.topic, key, value, timeout=self.publish_timeout)
                return
            except PublishFailed as exc:
                log.warning("sweep: could not append issue %s: %s; retrying", envelope.issue_id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _record(self, position: Position, extra: dict[str, str]) -> None:
        await self.recorder.outcome(key=KEY, kind=KIND, status=decide.OK, issue_id=None, request_id=None,
                                    details={**position.details(), **extra, "at": self.clock().isoformat()},
                                    message_key=KEY)

