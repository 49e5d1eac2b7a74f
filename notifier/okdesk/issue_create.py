"""A new Okdesk issue from the bot, created once whatever fails.

The idempotency key is the Telegram update that carried the description (`new:<update id>`): an
intent (with everything needed to create it) is recorded on `notifier.outcomes` under that key
before `POST /issues/`, the outcome (with the new issue's id) after. Creation is scheduled work with
backoff like the other Okdesk writes. An intent left without outcome (a crash, or an answer that
never came) is reconciled before anything is created again: the contact's issues are listed
newest first, page by page (`GET /issues/list?contact_ids[]=..&sorting[field]=created_at&
sorting[direction]=reverse&page[number]=..`), until one carries the marker put in the description
or the issues are older than the first intent. The list carries no description: an issue whose
title is the one intended is read (`GET /issues/{id}`) to look for the marker. So neither a
redelivered update nor a restart ever creates a second issue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from notifier import decide, render
from notifier.decide import Entry
from notifier.locale import Texts
from notifier.okdesk.client import OkdeskClient, OkdeskError, as_id
from notifier.outcomes.log import OutcomeLog, Recorder
from notifier.telegram.sender import TelegramSender
from schemas.keys import okdesk_id

log = logging.getLogger("okrate.notifier.new_issue")

CREATE = "okdesk.create_issue"
RECONCILE_MAX_PAGES = 20  # of the contact's issues, newest first, searched for the marker
CLOCK_SKEW = 86_400.0  # issues created this long before the first intent are still looked at


def creation_key(update_id: int) -> str:
    return f"new:{update_id}"


def find_marked(issues: list[dict[str, Any]], marker: str) -> str | None:
    """The id of the issue whose description carries `marker` (pure)."""
    for issue in issues:
        if marker in str(issue.get("description") or "") and as_id(issue.get("id")) is not None:
            return okdesk_id(as_id(issue.get("id")))
    return None


def created_by(entries: Iterable[Entry], user_id: int) -> list[datetime]:
    """When this user's issues were asked for through the bot (pure): every creation recorded in
    the intent log, done or under way; those Okdesk refused do not count against the user."""
    return [datetime.fromtimestamp(e.first_intended_at, UTC) for e in entries
            if e.kind == CREATE and e.user_id == user_id and e.first_intended_at is not None
            and e.status != decide.FAILED]


def created_before(issue: dict[str, Any], moment: float) -> bool:
    """Okdesk's `created_at` is before `moment` (an issue without a readable time is not)."""
    value = issue.get("created_at")
    try:
        return isinstance(value, str) and datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() < moment
    except ValueError:
        return False


class IssueCreator:
    def __init__(self, client: OkdeskClient, recorder: Recorder, outcome_log: OutcomeLog, sender: TelegramSender,
                 texts: Texts, *, portal_url: str | None, retry_for: float, backoff_base: float = 1.0,
                 backoff_cap: float = 300.0):
        self.client, self.recorder, self.log, self.sender, self.texts = client, recorder, outcome_log, sender, texts
        self.portal_url, self.retry_for = portal_url, retry_for
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self._tasks: dict[str, asyncio.Task] = {}

    async def accept(self, *, update_id: int, chat_id: int, user_id: int, contact_id: str, title: str, text: str,
                     language_code: str | None) -> None:
        """Records the intent and schedules the creation; returns once the intent is stored."""
        key = creation_key(update_id)
        entry = self.log.get(key)
        plan = decide.okdesk_plan(entry)
        if plan == "skip":
            self._confirm(key)  # a redelivered update: confirm again (the confirmation is once too)
            return
        if key in self._tasks:
            return
        if plan == "do":
            locale = self.texts.locale_for(None)
            marker = render.new_issue_marker(update_id)
            details = {
                "title": title, "marker": marker, "contact_id": contact_id,
                "description": render.okdesk_new_issue_description(text, user_id, marker, self.texts, locale),
                "chat_id": str(chat_id), "user_id": str(user_id), "lang": language_code or "",
            }
            await self.recorder.intent(key=key, kind=CREATE, issue_id=None, request_id=None, user_id=user_id,
                                       chat_id=chat_id, attempt=1, details=details, message_key=key)
        self._schedule(key, reconcile_first=plan == "redo_after_crash")

    def created_by(self, user_id: int) -> list[datetime]:
        return created_by(self.log.entries.values(), user_id)

    def resume_pending(self) -> int:
        """After a restart: unfinished creations are reconciled and finished; finished ones whose
        confirmation never went out are confirmed."""
        count = 0
        for entry in list(self.log.entries.values()):
            if entry.kind != CREATE:
                continue
            if entry.status is None and entry.intents and entry.key not in self._tasks:
                self._schedule(entry.key, reconcile_first=True)
                count += 1
            elif entry.status is not None and self.log.get(f"{entry.key}:confirm") is None:
                self._confirm(entry.key)
        return count

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def _schedule(self, key: str, *, reconcile_first: bool) -> None:
        task = asyncio.create_task(self._run(key, reconcile_first), name=f"okdesk-{key}")
        self._tasks[key] = task
        task.add_done_callback(lambda t, key=key: self._tasks.pop(key, None))

    async def _run(self, key: str, reconcile_first: bool) -> None:
        entry = self.log.get(key)
        assert entry is not None
        details = dict(entry.intent_details)
        started = entry.first_intended_at or time.time()
        attempt = entry.last_attempt or 1
        check = reconcile_first
        while True:
            try:
                issue_id = await self._reconcile(details, started) if check else None
                reconciled = issue_id is not None
                if issue_id is None:
                    if check:
                        attempt += 1
                        await self.recorder.intent(key=key, kind=CREATE, issue_id=None, request_id=None,
                                                   user_id=entry.user_id, chat_id=entry.chat_id, attempt=attempt,
                                                   details=details, message_key=key)
                    issue_id = await self._create(details)
                status, error, http = decide.OK, None, 200
            except OkdeskError as exc:
                if decide.okdesk_retryable(exc.status) and time.time() - started < self.retry_for:
                    pause = max(decide.backoff(attempt, self.backoff_base, self.backoff_cap), exc.retry_after or 0.0)
                    log.info("creating the issue of %s failed (%s); attempt %d in %.1fs", key, exc, attempt + 1, pause)
                    await asyncio.sleep(pause)
                    check = True  # the failed call may have landed: look before creating again
                    continue
                issue_id, reconciled, status, error, http = None, False, decide.FAILED, exc.errors, exc.status
            out = {"reconciled": "true"} if reconciled else {}
            if issue_id:
                out["issue_id"] = issue_id
            await self.recorder.outcome(key=key, kind=CREATE, status=status, issue_id=issue_id, request_id=None,
                                        user_id=entry.user_id, chat_id=entry.chat_id, attempt=attempt,
                                        http_status=http, error=error, details=out, message_key=key)
            if status != decide.OK:
                log.warning("the issue of %s was not created: %s", key, error)
            self._confirm(key)
            return

    async def _reconcile(self, details: dict[str, str], intended_at: float) -> str | None:
        """The issue an earlier attempt created, if Okdesk has it: the contact's issues newest
        first, until the marker is found or the issues were created before the first intent."""
        marker, title = details["marker"], details.get("title")
        pages = self.client.issue_pages({"contact_ids[]": details["contact_id"]}, sort_field="created_at",
                                        direction="reverse", max_pages=RECONCILE_MAX_PAGES)
        async for _, _, issues in pages:
            found = find_marked(issues, marker)
            if found is not None:
                return found
            for issue in issues:
                issue_id = as_id(issue.get("id"))
                if issue_id is None or "description" in issue or issue.get("title") not in (title, None):
                    continue
                full = await self.client.get_issue(issue_id)  # the list carries no description
                if marker in str(full.get("description") or ""):
                    return okdesk_id(issue_id)
            if issues and all(created_before(i, intended_at - CLOCK_SKEW) for i in issues):
                return None  # older than the first attempt: it cannot be among the rest
        return None

    async def _create(self, details: dict[str, str]) -> str:
        contact = await self.client.get_contact(details["contact_id"]) or {}
        fields: dict[str, Any] = {"title": details["title"], "description": details["description"],
                                  "contact_id": _number(details["contact_id"])}
        if contact.get("company_id") is not None:
            fields["company_id"] = contact["company_id"]
        created = await self.client.create_issue(fields)
        if created.get("id") is None:
            raise OkdeskError(502, "Okdesk answered without the new issue's id")
        return okdesk_id(created["id"])

    def _confirm(self, key: str) -> asyncio.Future | None:
        entry = self.log.get(key)
        if entry is None or entry.status is None or entry.chat_id is None:
            return None
        locale = self.texts.locale_for(entry.intent_details.get("lang") or None)
        issue_id = entry.outcome_details.get("issue_id")
        if entry.status == decide.OK and issue_id:
            message = render.new_issue_created(issue_id, entry.intent_details.get("title", ""), self.texts, locale,
                                               self.portal_url)
        else:
            message = render.Message(self.texts.get("new.failed", locale, support=render.support_hint(
                self.texts, locale, self.portal_url)))
        return self.sender.submit(decide.TelegramAction(
            key=f"{key}:confirm", kind=decide.KIND["reply"], op="send", issue_id=issue_id, request_id=None,
            user_id=entry.user_id, chat_id=entry.chat_id, message=message, log_key=key,
        ))


def _number(value: str) -> int | str:
    return int(value) if value.isdigit() else value
