"""How the Okdesk stand-in shows an issue: the API's answer (`GET /issues/{id}`, a row of
`/issues/list`) and the facts its webhooks carry."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from sandbox.okdesk_objects import (
    PRIORITIES,
    TYPES,
    Comment,
    Company,
    Contact,
    Employee,
    Group,
    Issue,
    Status,
)
from sandbox.webhooks import IssueFacts, Person


class OkdeskState(Protocol):
    """What these views read of the stand-in's data (`sandbox.okdesk_state.OkdeskState`)."""

    statuses: dict[str, Status]
    companies: dict[int, Company]
    contacts: dict[int, Contact]
    employees: dict[int, Employee]
    groups: dict[int, Group]

    def comments_of(self, issue_id: int) -> list[Comment]: ...


def issue_json(state: OkdeskState, issue: Issue, *, listed: bool = False) -> dict[str, Any]:
    """`GET /issues/{id}`'s answer; `listed`: as `/issues/list` shows it (without the
    description, which the list does not carry: ovn25519/okdesk-phone-sync)."""
    contact = state.contacts.get(issue.contact_id) if issue.contact_id else None
    comments = state.comments_of(issue.id)
    answer = {
        "id": issue.id,
        "title": issue.title,
        "description": issue.description,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "completed_at": issue.completed_at,
        "deadline_at": None,
        "delay_to": None,
        "status": state.statuses[issue.status].ref(),
        "old_status": state.statuses[issue.old_status].ref() if issue.old_status else None,
        "type": {"code": issue.type_code, "name": TYPES.get(issue.type_code, issue.type_code)},
        "priority": {
            "code": issue.priority_code,
            "name": PRIORITIES.get(issue.priority_code, issue.priority_code),
        },
        "company_id": issue.company_id,
        "contact": {"id": contact.id, "name": contact.full_name} if contact else None,
        "assignee": {"employee_id": issue.assignee_id, "group_id": issue.group_id},
        # an object here, a bare string in webhooks (apepenkov/okdesk_api's Issue example)
        "rate": {"id": issue.rate_id, "value": issue.rate} if issue.rate else None,
        "comments": {
            "count": len(comments),
            "last_at": comments[-1].published_at if comments else None,
        },
        "parameters": [],
        "attachments": [],
    }
    if listed:
        del answer["description"]
    return answer

def issue_facts(state: OkdeskState, issue: Issue) -> IssueFacts:
    """What a webhook about ``issue`` tells (a contact unknown here keeps its bare id)."""
    contact = person(state, issue.contact_id, "contact") if issue.contact_id else None
    company = state.companies.get(issue.company_id) if issue.company_id else None
    group = state.groups.get(issue.group_id) if issue.group_id else None
    return IssueFacts(
        issue_id=issue.id,
        title=issue.title,
        description=issue.description,
        status=issue.status,
        old_status=issue.old_status,
        contact=contact,
        company_id=issue.company_id,
        company_name=company.name if company else None,
        assignee=person(state, issue.assignee_id, "employee") if issue.assignee_id else None,
        group_id=group.id if group else None,
        group_name=group.name if group else None,
        author=contact,
        type_code=issue.type_code,
        type_name=TYPES.get(issue.type_code, issue.type_code),
        priority_code=issue.priority_code,
        priority_name=PRIORITIES.get(issue.priority_code, issue.priority_code),
        created_at=issue.created_at,
        completed_at=issue.completed_at,
        rate=issue.rate,
        status_names={s.code: s.name for s in state.statuses.values()},
    )


def person(state: OkdeskState, person_id: int, kind: Literal["employee", "contact"]) -> Person:
    if kind == "employee":
        if (e := state.employees.get(person_id)) is None:
            return Person(person_id)
        return Person(e.id, e.first_name, e.last_name)
    if (c := state.contacts.get(person_id)) is None:
        return Person(person_id, type="contact")
    return Person(c.id, c.first_name, c.last_name, c.patronymic, "contact")
