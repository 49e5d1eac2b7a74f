"""What the Okdesk stand-in is seeded with (tests, the sandbox page, the benchmarks): statuses,
companies, contacts, employees, issues, webhook targets."""

from __future__ import annotations

from sandbox.okdesk_objects import FINAL, Company, Contact, Employee, Issue, Status, okdesk_time
from sandbox.webhooks import Dialect, WebhookTarget


class Seeding:
    """Mixed into `OkdeskState`, whose data it adds to."""

    def add_status(self, code: str, name: str) -> Status:
        status = self.statuses[code] = Status(code, name)
        return status

    def add_company(self, name: str, *, id: int | None = None) -> Company:
        company = Company(self._id("company", id, self.companies), name)
        self.companies[company.id] = company
        return company

    def add_contact(
        self,
        first_name: str,
        last_name: str = "",
        *,
        phone: str | None = None,
        mobile_phone: str | None = None,
        company_id: int | None = None,
        patronymic: str | None = None,
        email: str | None = None,
        id: int | None = None,
    ) -> Contact:
        contact = Contact(
            self._id("contact", id, self.contacts),
            first_name,
            last_name,
            patronymic,
            phone,
            mobile_phone,
            email,
            company_id,
        )
        self.contacts[contact.id] = contact
        return contact

    def add_employee(
        self,
        first_name: str,
        last_name: str = "",
        *,
        group_id: int | None = None,
        id: int | None = None,
    ) -> Employee:
        employee = Employee(
            self._id("employee", id, self.employees), first_name, last_name, group_id
        )
        self.employees[employee.id] = employee
        return employee

    def add_issue(
        self,
        title: str,
        *,
        contact_id: int | None = None,
        company_id: int | None = None,
        status: str = "opened",
        description: str = "",
        assignee_id: int | None = None,
        id: int | None = None,
    ) -> Issue:
        if status not in self.statuses:
            raise ValueError(f"unknown status {status!r}; add it with add_status")
        if company_id is None and contact_id is not None and contact_id in self.contacts:
            company_id = self.contacts[contact_id].company_id
        issue = Issue(
            id=self._id("issue", id, self.issues),
            title=title,
            status=status,
            created_at=okdesk_time(self.clock()),
            description=description,
            contact_id=contact_id,
            company_id=company_id,
            assignee_id=assignee_id,
            group_id=self.employees[assignee_id].group_id
            if assignee_id in self.employees
            else None,
        )
        issue.updated_at = issue.created_at
        if status in FINAL:
            issue.completed_at = issue.created_at
        self.issues[issue.id] = issue
        return issue

    def add_webhook_target(
        self, url: str, dialect: Dialect = "okdesk", secret: str | None = None
    ) -> WebhookTarget:
        """Where Okdesk posts its webhooks (Settings → API → Webhooks in real Okdesk)."""
        target = WebhookTarget(url, dialect, secret)
        self.webhook_targets.append(target)
        return target
