"""Everything the Okdesk stand-in knows: statuses, companies, contacts, employees, issues,
comments, the calls it answered, and where it posts webhooks."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args

from sandbox import okdesk_views
from sandbox.clock import Clock, system_clock
from sandbox.faults import FaultInjector
from sandbox.okdesk_objects import (
    FINAL,
    Comment,
    Company,
    Contact,
    Employee,
    Group,
    Issue,
    Status,
    okdesk_time,
    phone_digits,
)
from sandbox.okdesk_seeding import Seeding
from sandbox.records import CallRecord
from sandbox.watch import Watchers
from sandbox.webhooks import (
    Dialect,
    IssueFacts,
    Person,
    WebhookDelivery,
    WebhookTarget,
    build_comment_webhook,
    build_status_webhook,
    encode_body,
    send_webhook,
)

DEFAULT_API_TOKEN = "sandbox-okdesk-token"
DEFAULT_STATUSES = (
    ("opened", "Открыта"),
    ("in_progress", "В работе"),
    ("delayed", "Отложена"),
    ("completed", "Решена"),
    ("closed", "Закрыта"),
)
RateBody = Literal["flat", "wrapped", "both"]
RATE_BODIES: tuple[str, ...] = get_args(RateBody)
T = TypeVar("T")


class OkdeskError(Exception):
    """An API error: HTTP ``status`` with body ``{"errors": errors}``."""

    def __init__(self, status: int, errors: Any) -> None:
        super().__init__(errors)
        self.status = status
        self.errors = errors


@dataclass
class OkdeskState(Seeding):
    """The Okdesk stand-in's data. Employee 1 ("Служба поддержки") exists from the start:
    it is the employee the API token belongs to and a valid ``author_id`` for comments."""

    api_token: str = DEFAULT_API_TOKEN
    clock: Clock = system_clock
    comment_webhooks: bool = True  # Okdesk reports every new comment, ours included
    # `/issues/list`: the page size when `page[size]` is absent, and the largest one accepted
    # (Okdesk answers 422 `{"errors": {"page": {"size": [...]}}}` above 100); tests make them small.
    list_page_size: int = 50
    list_page_size_max: int = 100
    # `POST /issues/{id}/rates`: the body form accepted: `{"rate": ..}` (flat, as apepenkov/okdesk_api
    # sends it), `{"issue": {"rate": ..}}` (wrapped, as Handlest/okdesk-bitrix does), or both.
    rate_body: RateBody = "flat"
    webhooks_down: bool = False  # the ingest unreachable: every webhook delivery fails

    statuses: dict[str, Status] = field(default_factory=dict)
    companies: dict[int, Company] = field(default_factory=dict)
    contacts: dict[int, Contact] = field(default_factory=dict)
    employees: dict[int, Employee] = field(default_factory=dict)
    groups: dict[int, Group] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    webhook_targets: list[WebhookTarget] = field(default_factory=list)
    webhook_deliveries: list[WebhookDelivery] = field(default_factory=list)
    faults: FaultInjector = field(init=False)
    _watchers: Watchers = field(default_factory=Watchers, repr=False)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set, repr=False)
    _next_id: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.faults = FaultInjector(clock=self.clock)
        for code, name in DEFAULT_STATUSES:
            self.statuses.setdefault(code, Status(code, name))
        self.groups.setdefault(1, Group(1, "Первая линия"))
        self.employees.setdefault(1, Employee(1, "Служба", "поддержки", group_id=1))

    # -- reading ---------------------------------------------------------------------------

    def token_matches(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.api_token.encode())

    def issue(self, issue_id: int) -> Issue:
        issue = self.issues.get(issue_id)
        if issue is None:
            raise OkdeskError(404, {"issue": f"Заявка с id {issue_id} не найдена"})
        return issue

    def comments_of(self, issue_id: int) -> list[Comment]:
        return [c for c in self.comments if c.issue_id == issue_id]

    def contacts_with_phone(self, phone: str) -> list[Contact]:
        """Phones match on their digits only: ``+7 (916) 123-45-67`` is ``79161234567``."""
        digits = phone_digits(phone)
        return [c for c in self.contacts.values() if c.has_phone(digits)]

    def calls_to(self, endpoint: str) -> list[CallRecord]:
        return [c for c in self.calls if c.method == endpoint]

    def issue_json(self, issue: Issue, *, listed: bool = False) -> dict[str, Any]:
        return okdesk_views.issue_json(self, issue, listed=listed)

    def issue_facts(self, issue: Issue) -> IssueFacts:
        return okdesk_views.issue_facts(self, issue)

    # -- changes (by the API or by a sandbox user acting as a service desk employee) --------

    async def change_status(
        self,
        issue_id: int,
        status: str,
        *,
        by_employee_id: int = 1,
        comment: str | None = None,
        webhook_url: str | None = None,
        dialect: Dialect = "okdesk",
        secret: str | None = None,
    ) -> list[WebhookDelivery]:
        """An employee moves the issue to ``status``; Okdesk then posts the status webhook to
        ``webhook_url`` (if given) and to every registered target, and returns the deliveries.
        """
        issue = self.issue(issue_id)
        if status not in self.statuses:
            raise OkdeskError(422, {"status": [f"неизвестный статус {status}"]})
        employee = self.employees.get(by_employee_id)
        if employee is None:
            raise ValueError(f"no employee {by_employee_id}")
        now = okdesk_time(self.clock())
        issue.old_status, issue.status = issue.status, status
        if status in FINAL and issue.completed_at is None:
            issue.completed_at = now  # a new resolution; completed → closed keeps it
        elif status not in FINAL:
            issue.completed_at = None  # reopened: the next resolution has a time of its own
        issue.updated_at = now
        comment_id = None
        if comment:
            comment_id = self._store_comment(issue, comment, True, employee.id, "employee").id
        facts = self.issue_facts(issue)
        changed_by = Person(employee.id, employee.first_name, employee.last_name)
        targets = list(self.webhook_targets)
        if webhook_url:
            targets.append(WebhookTarget(webhook_url, dialect, secret))
        self.notify()
        return list(
            await asyncio.gather(
                *(
                    self._deliver(
                        t,
                        build_status_webhook(
                            t.dialect,
                            facts,
                            changed_by=changed_by,
                            comment=comment,
                            comment_id=comment_id,
                        ),
                    )
                    for t in targets
                )
            )
        )

    def add_comment(
        self,
        issue_id: int,
        content: str,
        author_id: int,
        author_type: Literal["employee", "contact"] = "employee",
        public: bool = True,
    ) -> Comment:
        """Store a comment and, in the background, tell the webhook targets about it."""
        issue = self.issue(issue_id)
        comment = self._store_comment(issue, content, public, author_id, author_type)
        if self.comment_webhooks and self.webhook_targets:
            facts = self.issue_facts(issue)
            author = okdesk_views.person(self, author_id, author_type)
            for target in self.webhook_targets:
                payload = build_comment_webhook(
                    target.dialect,
                    facts,
                    comment_id=comment.id,
                    content=content,
                    public=public,
                    author=author,
                )
                self._background(self._deliver(target, payload))
        return comment

    def rate_issue(self, issue_id: int, rate: str) -> Issue:
        issue = self.issue(issue_id)
        if issue.rate is not None:
            raise OkdeskError(422, {"rate": ["Заявка уже оценена"]})
        issue.rate = rate
        issue.rate_id = self._id("rate", None, {})
        issue.updated_at = okdesk_time(self.clock())
        self.notify()
        return issue

    async def wait_until(self, predicate: Callable[[], T], within: float = 5.0) -> T:
        """Wait (in real time) until ``predicate()`` is truthy after some call or change."""
        return await self._watchers.wait_until(predicate, within)

    async def drain(self) -> None:
        """Wait for webhooks still being posted in the background."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()

    def notify(self) -> None:
        self._watchers.notify()

    def record_call(self, call: CallRecord) -> None:
        self.calls.append(call)
        self.notify()

    # -- internals -------------------------------------------------------------------------

    def _store_comment(
        self,
        issue: Issue,
        content: str,
        public: bool,
        author_id: int,
        author_type: Literal["employee", "contact"],
    ) -> Comment:
        if author_type == "employee":
            author = self.employees.get(author_id)
            name = f"{author.last_name} {author.first_name}".strip() if author else None
        else:
            contact = self.contacts.get(author_id)
            name = contact.full_name if contact else None
        if name is None:
            raise OkdeskError(422, {"author_id": [f"{author_type} с id {author_id} не найден"]})
        comment = Comment(
            id=self._id("comment", None, {c.id: c for c in self.comments}),
            issue_id=issue.id,
            content=content,
            public=public,
            author_id=author_id,
            author_type=author_type,
            author_name=name,
            published_at=okdesk_time(self.clock()),
        )
        self.comments.append(comment)
        issue.updated_at = comment.published_at
        self.notify()
        return comment

    async def _deliver(self, target: WebhookTarget, payload: dict[str, Any]) -> WebhookDelivery:
        if self.webhooks_down:  # as Okdesk meets an unreachable ingest: no retry is documented
            delivery = WebhookDelivery(target.url, encode_body(payload), {}, None,
                                       error="ClientConnectorError: the ingest is unreachable")
        else:
            delivery = await send_webhook(target.url, payload, secret=target.secret)
        self.webhook_deliveries.append(delivery)
        self.notify()
        return delivery

    def _background(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _id(self, kind: str, wanted: int | None, taken: dict[int, Any]) -> int:
        if wanted is not None:
            if wanted in taken:
                raise ValueError(f"{kind} {wanted} exists already")
            return wanted
        start = {"issue": 1000, "contact": 10, "company": 10, "employee": 2, "comment": 500, "rate": 1}
        candidate = max(self._next_id.get(kind, start.get(kind, 1)), max(taken, default=0) + 1)
        self._next_id[kind] = candidate + 1
        return candidate
