"""Alerts to the team: every low rating (score ≤ ALERT_MAX_SCORE) and then its reasons, as they
come, posted to the staff chat ALERT_CHAT_ID with a link to the issue.

A group chat takes about 20 messages a minute. Alerts wait in the chat's queue of the Pacer, and
when one may go, everything that has piled up meanwhile goes with it in one message: a burst of
low ratings becomes a few messages at the group's pace instead of a backlog. Each alert has an
idempotency key (request id + `alert` [+ reason code]): a redelivered decision is not alerted again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from notifier import decide, render
from notifier.locale import Texts
from notifier.outcomes.log import OutcomeLog
from notifier.telegram.pace import Pacer
from notifier.telegram.sender import TelegramSender
from schemas.records import RatingRecorded, ReasonRecorded

log = logging.getLogger("okrate.notifier.alerts")

MAX_CHARS = 3800  # Telegram allows 4096 characters in a message


@dataclass(frozen=True)
class Alert:
    key: str
    issue_id: str
    request_id: str
    text: str


def alert_for(record: RatingRecorded | ReasonRecorded, texts: Texts, max_score: int,
              portal_url: str | None) -> Alert | None:
    """The alert a decision makes, if any (pure)."""
    if not 1 <= record.score <= max_score:
        return None
    loc = texts.locale_for(None)
    if isinstance(record, RatingRecorded):
        return Alert(f"{record.request_id}:alert", record.issue_id, record.request_id,
                     render.alert_text(record, texts, loc, portal_url))
    code = record.reason_code or "text"
    return Alert(f"{record.request_id}:alert.reason.{code}", record.issue_id, record.request_id,
                 render.alert_reason_text(record, texts, loc))


def batches(alerts: list[Alert], max_chars: int = MAX_CHARS) -> list[list[Alert]]:
    """Alerts grouped, in order, into messages of at most `max_chars` (pure)."""
    out: list[list[Alert]] = []
    size = 0
    for alert in alerts:
        if out and size + 2 + len(alert.text) <= max_chars:
            out[-1].append(alert)
            size += 2 + len(alert.text)
        else:
            out.append([alert])
            size = len(alert.text)
    return out


class Alerter:
    def __init__(self, sender: TelegramSender, pacer: Pacer, outcome_log: OutcomeLog, texts: Texts, *,
                 chat_id: int, max_score: int, portal_url: str | None):
        self.sender, self.pacer, self.log, self.texts = sender, pacer, outcome_log, texts
        self.chat_id, self.max_score, self.portal_url = chat_id, max_score, portal_url
        self._pending: list[tuple[Alert, asyncio.Future]] = []
        self._scheduled = False
        self._sending: set[str] = set()  # keys of the message under way (outcomes not yet recorded)
        self.messages = 0

    def add(self, record: RatingRecorded | ReasonRecorded) -> asyncio.Future | None:
        """Queues the record's alert; the future is done once it is posted (or found done)."""
        alert = alert_for(record, self.texts, self.max_score, self.portal_url)
        if alert is None or decide.telegram_plan(self.log.get(alert.key)) == "skip":
            return None
        if alert.key in self._sending or any(a.key == alert.key for a, _ in self._pending):
            return None
        future = asyncio.get_running_loop().create_future()
        self._pending.append((alert, future))
        if not self._scheduled:
            self._scheduled = True
            self.pacer.submit(self.chat_id, self._post)
        return future

    async def _post(self) -> None:
        await self.pacer.wait_chat(self.chat_id)  # meanwhile, more alerts may join this message
        taken, self._pending = self._pending, []
        first, *rest = batches([a for a, _ in taken]) or [[]]
        futures = {a.key: f for a, f in taken}
        keep = {a.key for batch in rest for a in batch}
        self._pending = [(a, f) for a, f in taken if a.key in keep]
        if self._pending:
            self.pacer.submit(self.chat_id, self._post)
        else:
            self._scheduled = False
        if not first:
            return
        self._sending.update(a.key for a in first)
        try:
            status = await self.sender.send_grouped(
                self.chat_id, decide.KIND["alert"], [(a.key, a.issue_id, a.request_id) for a in first],
                "\n\n".join(a.text for a in first))
            self.messages += 1
            if status not in (decide.OK, decide.POSSIBLE_DUPLICATE):
                log.warning("alert to chat %s: %s", self.chat_id, status)
        finally:
            self._sending.difference_update(a.key for a in first)
            for alert in first:
                future = futures[alert.key]
                if not future.done():
                    future.set_result(None)
