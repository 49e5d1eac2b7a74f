"""What a press's spinner is stopped with: the streams' decision on it, when that decision comes
within TELEGRAM_PRESS_ANSWER_WAIT, else a neutral word that promises nothing.

Telegram shows a progress bar on the button until `answerCallbackQuery`, and accepts the answer
for several seconds only ("query is too old" afterwards); press → decision takes tens of
milliseconds when all is well, so the answer waits a little for `rating.recorded` (which the
notifier consumes anyway) and says what was decided: the score taken; already rated, with the
score that stands; not yours; expired; ...

`PressDecisions` is the notifier's memory of decisions by update id (bounded), fed by the
decisions consumer. A decision may arrive before the callbacks consumer reaches its press (two
consumers, two topics), so a decision is kept for a while, not only handed to a waiter.

A repeated press (the same user, the same request, after their rating was recorded) is answered
at once from that memory, without waiting for the streams: once a request is rated by its
recipient, no later press by them can change it, so «already rated: X» is what the streams will
decide too (or «expired», equally a refusal). The streams still judge the press (they read
`telegram.updates` themselves), and its rejection's chat message stays as it is.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

from notifier import render
from notifier.locale import Texts
from schemas.records import RatingRecorded, RatingRejected, ReasonRecorded, Record

PressDecision = RatingRecorded | RatingRejected | ReasonRecorded


@dataclass(frozen=True)
class Standing:
    """A request's recorded rating: who gave it (from which update) and the score."""

    user_id: int
    update_id: int
    score: int


def answer_text(decision: PressDecision | Standing | None, texts: Texts, locale: str) -> str:
    """The callback answer (a toast, plain text, ≤ 200 characters) for a press's decision; for
    a `Standing` (a repeated press answered from memory): already rated; None: the neutral word."""
    if decision is None:
        return texts.get("press.received", locale)
    if isinstance(decision, Standing):
        return texts.get("press.already_rated", locale, stars=render.stars(decision.score), score=decision.score)
    if isinstance(decision, RatingRecorded):
        return texts.get("press.recorded", locale, stars=render.stars(decision.score), score=decision.score)
    if isinstance(decision, ReasonRecorded):
        if decision.reason_code is None:
            return texts.get("press.reason_text", locale)
        return texts.get("press.reason", locale, reason=texts.reason_label(decision.reason_code, locale))
    if decision.reason == "already_rated":
        if decision.standing_score:
            return texts.get("press.already_rated", locale, stars=render.stars(decision.standing_score),
                             score=decision.standing_score)
        return texts.get("press.already_rated_unknown", locale)
    key = f"press.{decision.reason}"
    if key in texts.tables[locale]:
        return texts.get(key, locale)
    return render.rejection_message(decision, texts, locale).text  # the chat message's own words


class PressDecisions:
    """Decisions on presses by update id, and each request's standing rating, both bounded
    (oldest forgotten first); waiters woken when their press is decided."""

    def __init__(self, keep: int = 10_000, keep_standing: int = 100_000):
        self.keep = keep
        self.keep_standing = keep_standing
        self._decided: OrderedDict[int, PressDecision] = OrderedDict()
        self._standing: OrderedDict[str, Standing] = OrderedDict()
        self._waiters: dict[int, list[asyncio.Future]] = {}
        self._by_request: dict[str, list[tuple[int, asyncio.Future]]] = {}

    def note(self, record: Record) -> None:
        """A record of `rating.recorded` (the decisions consumer calls this for each)."""
        if not isinstance(record, RatingRecorded | RatingRejected | ReasonRecorded):
            return
        self._decided[record.update_id] = record
        self._decided.move_to_end(record.update_id)
        while len(self._decided) > self.keep:
            self._decided.popitem(last=False)
        for waiter in self._waiters.pop(record.update_id, ()):
            if not waiter.done():
                waiter.set_result(record)
        if isinstance(record, RatingRecorded):
            standing = Standing(record.from_user_id, record.update_id, record.score)
            self._standing[record.request_id] = standing
            self._standing.move_to_end(record.request_id)
            while len(self._standing) > self.keep_standing:
                self._standing.popitem(last=False)
            for user_id, waiter in self._by_request.get(record.request_id, ()):
                if user_id == record.from_user_id and not waiter.done():
                    waiter.set_result(standing)

    def known(self, update_id: int, request_id: str | None, user_id: int | None) -> PressDecision | Standing | None:
        """What can be said about this press now: its own decision, or (a repeated press) the
        rating the same user already gave this request from another press."""
        if (decision := self._decided.get(update_id)) is not None:
            return decision
        if request_id is not None and (standing := self._standing.get(request_id)) is not None:
            if standing.user_id == user_id and standing.update_id != update_id:
                return standing
        return None

    async def wait(self, update_id: int, request_id: str | None, user_id: int | None,
                   timeout: float) -> PressDecision | Standing | None:
        """The press's decision (or standing rating) once known, None after `timeout` seconds."""
        if (now := self.known(update_id, request_id, user_id)) is not None:
            return now
        if timeout <= 0:
            return None
        waiter: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(update_id, []).append(waiter)
        if request_id is not None:
            self._by_request.setdefault(request_id, []).append((user_id or 0, waiter))
        try:
            return await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return None
        finally:
            self._forget(self._waiters, update_id, waiter)
            if request_id is not None:
                self._by_request[request_id] = [p for p in self._by_request.get(request_id, ()) if p[1] is not waiter]
                if not self._by_request[request_id]:
                    del self._by_request[request_id]

    @staticmethod
    def _forget(table: dict[int, list[asyncio.Future]], key: int, waiter: asyncio.Future) -> None:
        left = [w for w in table.get(key, ()) if w is not waiter]
        if left:
            table[key] = left
        else:
            table.pop(key, None)

    @property
    def waiting(self) -> int:
        return sum(len(w) for w in self._waiters.values())
