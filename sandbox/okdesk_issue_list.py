"""`GET /issues/list` and `GET /issues/count` of the Okdesk stand-in: the filters (ids, days as
`dd-mm-yyyy`, statuses), paging (`page[number]`, `page[size]`) and ordering (`sorting[field]`,
`sorting[direction]`), with the `{"errors": ...}` answers of the real API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from sandbox.okdesk_objects import okdesk_date, parse_time
from sandbox.okdesk_state import OkdeskError, OkdeskState


def _ids(request: web.Request, *names: str) -> set[int]:
    values: set[int] = set()
    for name in names:
        for raw in request.query.getall(name, []):
            values.update(int(v) for v in raw.split(",") if v.strip().isdigit())
    return values


def _day(request: web.Request, name: str, errors: dict[str, Any]) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    day = okdesk_date(raw)
    if day is None:
        errors[name] = ["Неверный формат даты"]
    return day


def _within(value: str | None, since: datetime | None, until: datetime | None) -> bool:
    if since is None and until is None:
        return True
    at = parse_time(value)
    if at is None:
        return False
    return (since is None or at >= since) and (until is None or at < until + timedelta(days=1))


def _page(request: web.Request, state: OkdeskState, errors: dict[str, Any]) -> tuple[int, int]:
    page: dict[str, list[str]] = {}
    number, size = 1, state.list_page_size
    for name, limit in (("number", None), ("size", state.list_page_size_max)):
        raw = request.query.get(f"page[{name}]")
        if raw is None:
            continue
        if not raw.strip().isdigit() or int(raw) < 1:
            page[name] = ["должно иметь тип integer и быть больше 0"]
        elif limit is not None and int(raw) > limit:
            page[name] = [f"должно быть меньше или равно {limit}"]
        elif name == "number":
            number = int(raw)
        else:
            size = int(raw)
    if page:
        errors["page"] = page
    return number, size


def _order(request: web.Request, errors: dict[str, Any]) -> tuple[str | None, bool]:
    field, direction = request.query.get("sorting[field]"), request.query.get("sorting[direction]")
    sorting: dict[str, list[str]] = {}
    if field is not None and field not in ("created_at", "updated_at"):
        sorting["field"] = ["должен быть одним из: created_at, updated_at"]
    if direction is not None and direction not in ("reverse", "forward"):
        sorting["direction"] = ["должен быть одним из: reverse, forward"]
    if sorting:
        errors["sorting"] = sorting
    return field, direction == "reverse"


async def list_issues(state: OkdeskState, request: web.Request, body: dict[str, Any]) -> Any:
    """`GET /issues/list`: filtered, sorted (`sorting[field]` created_at/updated_at,
    `sorting[direction]` reverse/forward) and paged (`page[number]` from 1, `page[size]`).
    Unsorted, it answers the oldest issues first."""
    contacts = _ids(request, "contact_ids[]", "contact_ids", "contact_id")
    companies = _ids(request, "company_ids[]", "company_ids", "company_id")
    wanted = {*request.query.getall("status_codes[]", []), *request.query.getall("status[]", [])}
    unwanted = set(request.query.getall("status_not[]", []))
    errors: dict[str, Any] = {}
    created = _day(request, "created_since", errors), _day(request, "created_until", errors)
    completed = _day(request, "completed_since", errors), _day(request, "completed_until", errors)
    number, size = _page(request, state, errors)
    field, reverse = _order(request, errors)
    if errors:
        raise OkdeskError(422, errors)
    issues = [
        i
        for i in state.issues.values()
        if (not contacts or i.contact_id in contacts)
        and (not companies or i.company_id in companies)
        and (not wanted or i.status in wanted)
        and i.status not in unwanted
        and _within(i.created_at, *created)
        and _within(i.completed_at, *completed)
    ]
    issues.sort(key=lambda i: i.id)
    if field is not None:
        issues.sort(key=lambda i: parse_time(getattr(i, field)) or datetime.min.replace(tzinfo=UTC))
        if reverse:
            issues.reverse()
    chosen = issues[(number - 1) * size : number * size]
    return [state.issue_json(i, listed=True) for i in chosen]


async def count_issues(state: OkdeskState, request: web.Request, body: dict[str, Any]) -> Any:
    """`GET /issues/count`: the ids of the issues that match (`status[]`, `updated_since`,
    `completed_since`, days as ``dd-mm-yyyy``), unpaged."""
    wanted = set(request.query.getall("status[]", []))
    errors: dict[str, Any] = {}
    updated = _day(request, "updated_since", errors), _day(request, "updated_until", errors)
    completed = _day(request, "completed_since", errors), _day(request, "completed_until", errors)
    if errors:
        raise OkdeskError(422, errors)
    return sorted(
        i.id
        for i in state.issues.values()
        if (not wanted or i.status in wanted)
        and _within(i.updated_at, *updated)
        and _within(i.completed_at, *completed)
    )
