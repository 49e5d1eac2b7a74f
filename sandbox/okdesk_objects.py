"""Okdesk's records as the stand-in keeps them, and the JSON its REST API answers with."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

MOSCOW = timezone(timedelta(hours=3))
RATES = ("bad", "normal", "good")


def okdesk_time(ts: float) -> str:
    """Okdesk writes times like ``2024-05-16T10:20:30.000+03:00``."""
    return datetime.fromtimestamp(ts, UTC).astimezone(MOSCOW).isoformat(timespec="milliseconds")


def okdesk_date(value: str) -> datetime | None:
    """A day as Okdesk's list filters take it (``22-03-2022``, in the account's time zone:
    Moscow here); None for anything else."""
    try:
        return datetime.strptime(value.strip(), "%d-%m-%Y").replace(tzinfo=MOSCOW)
    except ValueError:
        return None


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def phone_digits(phone: str | None) -> str:
    return re.sub(r"\D", "", phone or "")


@dataclass
class Status:
    code: str
    name: str
    color: str = "#5a8dee"

    def ref(self) -> dict[str, str]:
        return {"code": self.code, "name": self.name}


@dataclass
class Company:
    id: int
    name: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "additional_name": None, "active": True}


@dataclass
class Contact:
    id: int
    first_name: str
    last_name: str = ""
    patronymic: str | None = None
    phone: str | None = None
    mobile_phone: str | None = None
    email: str | None = None
    company_id: int | None = None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.patronymic) if p)

    def has_phone(self, digits: str) -> bool:
        return bool(digits) and digits in (
            phone_digits(self.phone),
            phone_digits(self.mobile_phone),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "patronymic": self.patronymic,
            "position": None,
            "company_id": self.company_id,
            "email": self.email,
            "phone": self.phone,
            "mobile_phone": self.mobile_phone,
            "login": None,
            "comment": None,
            "active": True,
            "custom_parameters": [],
        }


@dataclass
class Employee:
    id: int
    first_name: str
    last_name: str = ""
    group_id: int | None = None


@dataclass
class Group:
    id: int
    name: str


@dataclass
class Comment:
    id: int
    issue_id: int
    content: str
    public: bool
    author_id: int
    author_type: Literal["employee", "contact"]
    author_name: str
    published_at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "content": self.content,
            "public": self.public,
            "published_at": self.published_at,
            "author": {"id": self.author_id, "name": self.author_name, "type": self.author_type},
            "attachments": [],
        }


@dataclass
class Issue:
    id: int
    title: str
    status: str
    created_at: str
    description: str = ""
    contact_id: int | None = None
    company_id: int | None = None
    assignee_id: int | None = None
    group_id: int | None = None
    old_status: str | None = None
    completed_at: str | None = None
    rate: str | None = None
    rate_id: int | None = None  # the rating's own id: the API answers `{"id": .., "value": ..}`
    updated_at: str | None = None  # every change moves it (what `/issues/list` sorts by)
    type_code: str = "service"
    priority_code: str = "normal"


TYPES = {"service": "Обслуживание", "incident": "Инцидент", "question": "Вопрос"}
PRIORITIES = {"low": "Низкий", "normal": "Средний", "high": "Высокий"}
FINAL = ("completed", "closed")  # statuses Okdesk counts as resolved (completed_at is set)
