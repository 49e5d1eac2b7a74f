"""The load of the chaos run: a help desk seeded in the Okdesk stand-in, contacts linked to
Telegram users, issues resolved at a steady rate through the stand-in (which posts the webhook,
as Okdesk would), and users pressing the rating buttons of the messages that reach them.

The sender retries a webhook that was not answered 200 (the same status again, final → final),
except during the outage fault, when Okdesk cannot reach the ingest at all: as Okdesk, which
documents no retry, it drops those deliveries, and only the sweep can find those resolutions.
Every press is a real Bot API update. What was answered how is kept for the checks.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field

from bench.sandbox_client import SandboxClient, bounded, issue_of_request, request_id_of

log = logging.getLogger("chaos.load")

USER_BASE = 800_000_000  # Telegram user of contact c: USER_BASE + c
UNREACHABLE = "the ingest is unreachable"  # the Okdesk stand-in's delivery error during an outage


@dataclass(frozen=True)
class Plan:
    issues: int = 1500
    rate: float = 15.0  # resolutions per second
    press_share: float = 0.7  # of the delivered requests
    double_press_share: float = 0.05  # of the pressed: pressed again (refused as already rated)
    unlinked_every: int = 20  # every n-th contact has no link: its requests are undeliverable
    shared_contact_every: int = 5  # every n-th issue belongs to the previous issue's contact
    closed_every: int = 10  # every n-th issue is closed after it was resolved (final → final)
    reopened_every: int = 33  # every n-th issue is reopened and resolved again (a second cycle)
    seed: int = 18


@dataclass
class Seeded:
    issue_contact: dict[int, int] = field(default_factory=dict)
    linked: dict[int, int] = field(default_factory=dict)  # contact → Telegram user
    reopened: set[int] = field(default_factory=set)


@dataclass
class LoadLog:
    status_changes: int = 0
    webhook_attempts: int = 0
    webhook_retries: int = 0
    webhook_given_up: list[tuple[int, str]] = field(default_factory=list)
    webhooks_lost: list[tuple[int, str]] = field(default_factory=list)  # (issue, status) dropped in the outage
    retried_issues: set[int] = field(default_factory=set)  # a webhook of theirs was not answered 200 at first
    pressed: dict[str, tuple[int, int, float]] = field(default_factory=dict)  # request → (user, score, at)
    press_updates: dict[int, str] = field(default_factory=dict)  # update id → request id
    press_refused: int = 0  # the stand-in refused (the button was gone: already edited)
    double_presses: int = 0
    press_errors: list[str] = field(default_factory=list)


async def seed(sandbox: SandboxClient, plan: Plan) -> Seeded:
    """Contacts, issues and Telegram users in the stand-ins; which contacts get a link."""
    seeded = Seeded()
    contacts: list[int] = []

    async def contact(i: int) -> int:
        return await sandbox.add_contact(f"Клиент{i}", "Хаосов")

    n_contacts = plan.issues - plan.issues // plan.shared_contact_every
    contacts = await bounded(16, [lambda i=i: contact(i) for i in range(n_contacts)])
    owners: list[int] = []
    it = iter(contacts)
    for i in range(plan.issues):
        owners.append(owners[-1] if i % plan.shared_contact_every == plan.shared_contact_every - 1 else next(it))
    ids = await bounded(16, [lambda i=i, c=c: sandbox.add_issue(f"Заявка {i}: не работает", c)
                             for i, c in enumerate(owners)])
    seeded.issue_contact = dict(zip(ids, owners, strict=True))
    for k, c in enumerate(contacts):
        if k % plan.unlinked_every != plan.unlinked_every - 1:
            seeded.linked[c] = USER_BASE + c
    await bounded(16, [lambda u=u: sandbox.add_user(u, f"Клиент {u}") for u in seeded.linked.values()])
    seeded.reopened = {i for k, i in enumerate(ids) if k % plan.reopened_every == plan.reopened_every - 1}
    return seeded


class Resolver:
    """Moves issues through their statuses at `plan.rate` per second via the Okdesk stand-in."""

    def __init__(self, sandbox: SandboxClient, plan: Plan, seeded: Seeded, record: LoadLog):
        self.sandbox, self.plan, self.seeded, self.record = sandbox, plan, seeded, record

    async def _change(self, issue: int, status: str, attempts: int = 12) -> bool:
        """One status change; redelivered (the same status again) until answered 200."""
        delay = 2.0
        for attempt in range(attempts):
            self.record.webhook_attempts += 1
            if attempt:
                self.record.webhook_retries += 1
                self.record.retried_issues.add(issue)
            try:
                deliveries = await self.sandbox.change_status(issue, status)
                if deliveries and all(d["status"] == 200 for d in deliveries):
                    return True
                if deliveries and all(UNREACHABLE in (d["error"] or "") for d in deliveries):
                    self.record.webhooks_lost.append((issue, status))
                    return True  # the status changed in Okdesk all the same; nobody sends it again
                why = str([(d["status"], d["error"]) for d in deliveries])
            except Exception as exc:  # the stand-in is never hurt; a timeout is retried all the same
                why = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 15.0)
        self.record.webhook_given_up.append((issue, f"{status}: {why}"))
        return False

    async def _life(self, k: int, issue: int) -> None:
        self.record.status_changes += 1
        if not await self._change(issue, "completed"):
            return
        if issue in self.seeded.reopened:
            await asyncio.sleep(3.0)
            self.record.status_changes += 2
            if await self._change(issue, "in_progress"):
                await asyncio.sleep(1.0)
                await self._change(issue, "completed")
        elif k % self.plan.closed_every == self.plan.closed_every - 1:
            await asyncio.sleep(5.0)
            self.record.status_changes += 1
            await self._change(issue, "closed")

    async def run(self) -> None:
        tasks = []
        begin = time.monotonic()
        for k, issue in enumerate(self.seeded.issue_contact):
            delay = begin + k / self.plan.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self._life(k, issue)))
        await asyncio.gather(*tasks)


class Presser:
    """Users who press: it follows the Bot API stand-in's sendMessage calls (one request for the
    whole list every couple of seconds) and presses a share of the rating messages a moment
    after they arrive; a few press twice. Issues that are reopened are not pressed (their first
    request is closed under the user's finger, which is the streams' business, not a loss)."""

    def __init__(self, sandbox: SandboxClient, plan: Plan, seeded: Seeded, record: LoadLog):
        self.sandbox, self.plan, self.seeded, self.record = sandbox, plan, seeded, record
        self.random = random.Random(plan.seed)
        self._seen_calls = 0
        self._decided: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self.stopping = asyncio.Event()

    async def _press(self, user: int, message_id: int, request_id: str, score: int, delay: float, again: bool) -> None:
        await asyncio.sleep(delay)
        data = f"r:{request_id}:{score}"
        try:
            status, answer = await self.sandbox.press(user, message_id, data)
        except Exception as exc:
            self.record.press_errors.append(f"{request_id}: {type(exc).__name__}: {exc}")
            return
        if status == 200:
            update = (answer or {}).get("update") or {}
            if "update_id" in update:
                self.record.press_updates[int(update["update_id"])] = request_id
            self.record.pressed.setdefault(request_id, (user, score, time.time()))
        elif status == 409:
            self.record.press_refused += 1
        else:
            self.record.press_errors.append(f"{request_id}: {status} {str(answer)[:200]}")
        if again:
            self.record.double_presses += 1
            await self._press(user, message_id, request_id, self.random.randint(1, 5), 1.0, False)

    def _consider(self, call: dict) -> None:
        request_id = request_id_of(call["params"])
        if call["status"] != 200 or request_id is None or request_id in self._decided:
            return
        self._decided.add(request_id)
        issue = int(issue_of_request(request_id))
        if issue in self.seeded.reopened or self.random.random() >= self.plan.press_share:
            return
        result = (call.get("response") or {}).get("result") or {}
        user = int(call["params"].get("chat_id"))
        score = 1 + issue % 5
        again = self.random.random() < self.plan.double_press_share
        task = asyncio.create_task(self._press(user, int(result["message_id"]), request_id, score,
                                               self.random.uniform(0.5, 3.0), again))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def poll_once(self) -> None:
        calls = await self.sandbox.telegram_calls("sendMessage")
        for call in calls[self._seen_calls:]:
            self._consider(call)
        self._seen_calls = len(calls)

    async def run(self, every: float = 2.0) -> None:
        while not self.stopping.is_set():
            try:
                await self.poll_once()
            except Exception as exc:
                log.warning("presser: %s", exc)
            try:
                await asyncio.wait_for(self.stopping.wait(), every)
            except TimeoutError:
                pass
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
