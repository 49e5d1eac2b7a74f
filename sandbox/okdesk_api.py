"""The Okdesk REST API stand-in (``/api/v1/``) as an aiohttp application."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.faults import Fault
from sandbox.okdesk_issue_list import count_issues, list_issues
from sandbox.okdesk_objects import RATES
from sandbox.okdesk_page_api import add_sandbox_routes
from sandbox.okdesk_state import OkdeskError, OkdeskState
from sandbox.records import CallRecord
from sandbox.runner import run_app, serve

STATE = web.AppKey("okdesk_state", OkdeskState)
Endpoint = Callable[[OkdeskState, web.Request, dict[str, Any]], Awaitable[Any]]
_BLANK = ["не может быть пустым"]
_PROXY_REASONS = {
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}
_NGINX_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def _unwrap(body: dict[str, Any], key: str) -> dict[str, Any]:
    """Okdesk takes ``{"comment": {...}}``; the flat form is reported to work too."""
    inner = body.get(key)
    return inner if isinstance(inner, dict) else body


def _int_or_422(value: Any, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise OkdeskError(422, {field: ["должно быть целым числом"]}) from None


def _issue_id(request: web.Request) -> int:
    return int(request.match_info["issue_id"])


async def add_comment(state: OkdeskState, request: web.Request, body: dict[str, Any]) -> Any:
    fields = _unwrap(body, "comment")
    errors: dict[str, list[str]] = {}
    content = fields.get("content")
    if not isinstance(content, str) or not content.strip():
        errors["content"] = _BLANK
    if fields.get("author_id") in (None, ""):
        errors["author_id"] = _BLANK
    author_type = fields.get("author_type", "employee")
    if author_type not in ("employee", "contact"):
        errors["author_type"] = ["должно быть employee или contact"]
    state.issue(_issue_id(request))  # 404 comes before validation, as Okdesk answers
    if errors:
        raise OkdeskError(422, errors)
    comment = state.add_comment(
        _issue_id(request),
        str(content),
        _int_or_422(fields["author_id"], "author_id"),
        author_type,
        public=bool(fields.get("public", False)),
    )
    return comment.as_dict()


async def list_comments(state: OkdeskState, request: web.Request, body: dict[str, Any]) -> Any:
    state.issue(_issue_id(request))
    return [c.as_dict() for c in state.comments_of(_issue_id(request))]


async def rate_issue(state: OkdeskState, request: web.Request, body: dict[str, Any]) -> Any:
    issue = state.issue(_issue_id(request))
    wrapped = body.get("issue") if isinstance(body.get("issue"), dict) else {}
    forms = {"flat": body.get("rate"), "wrapped": wrapped.get("rate")}
    rate = forms["flat"] or forms["wrapped"] if state.rate_body == "both" else forms[state.rate_body]
    if rate is None:
        raise OkdeskError(422, {"rate": _BLANK})  # the other form: as if no rate were given
    if rate not in RATES:
        raise OkdeskError(422, {"rate": [f"должно быть одним из: {', '.join(RATES)}"]})
    return state.issue_json(state.rate_issue(issue.id, rate))


async def get_issue(state: OkdeskState, request: web.Request, body: dict[str, Any]) -> Any:
    return state.issue_json(state.issue(_issue_id(request)))


async def create_issue(state: OkdeskState, request: web.Request, body: dict[str, Any]) -> Any:
    fields = _unwrap(body, "issue")
    title = fields.get("title")
    if not isinstance(title, str) or not title.strip():
        raise OkdeskError(422, {"title": _BLANK})
    contact_id = company_id = None
    if fields.get("contact_id") is not None:
        contact_id = _int_or_422(fields["contact_id"], "contact_id")
        if contact_id not in state.contacts:
            raise OkdeskError(422, {"contact_id": ["контакт не найден"]})
    if fields.get("company_id") is not None:
        company_id = _int_or_422(fields["company_id"], "company_id")
        if company_id not in state.companies:
            raise OkdeskError(422, {"company_id": ["компания не найдена"]})
    issue = state.add_issue(
        title.strip(),
        contact_id=contact_id,
        company_id=company_id,
        description=str(fields.get("description") or ""),
    )
    state.notify()
    return state.issue_json(issue)


async def list_statuses(state: OkdeskState, request: web.Request, body: dict[str, Any]) -> Any:
    return [
        {"id": n, "code": s.code, "name": s.name, "color": s.color}
        for n, s in enumerate(state.statuses.values(), start=1)
    ]


async def find_contact(state: OkdeskState, request: web.Request, body: dict[str, Any]) -> Any:
    if "id" in request.query:
        contact = state.contacts.get(_int_or_422(request.query["id"], "id"))
    elif "phone" in request.query:
        found = state.contacts_with_phone(request.query["phone"])
        contact = found[0] if found else None
    else:
        raise OkdeskError(422, {"phone": ["укажите phone или id"]})
    if contact is None:
        raise OkdeskError(404, {"contact": "Контакт не найден"})
    return contact.as_dict()


def _fault_response(fault: Fault) -> web.Response:
    if fault.status == 429:
        return web.json_response(
            {"errors": "Too many requests"},
            status=429,
            headers={"Retry-After": str(fault.retry_after or 5)},
        )
    if fault.status in (502, 503, 504):  # what the proxy in front of Okdesk answers
        reason = _PROXY_REASONS[fault.status]
        return web.Response(
            text=_NGINX_PAGE.format(status=fault.status, reason=reason),
            status=fault.status,
            content_type="text/html",
        )
    return web.json_response({"errors": "Internal Server Error"}, status=fault.status)


def _endpoint(
    name: str, implementation: Endpoint
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        state = request.app[STATE]
        at = state.clock()
        query = {k: v for k, v in request.query.items() if k != "api_token"}
        body: dict[str, Any] = {}
        response: web.Response
        try:
            if not state.token_matches(request.query.get("api_token")):
                raise OkdeskError(401, "Доступ запрещён: неверный api_token")
            body = await _json_body(request)
            if delay := state.faults.delay_for(name):
                await asyncio.sleep(delay)
            if fault := state.faults.take(name):
                response = _fault_response(fault)
            else:
                response = _json(await implementation(state, request, body))
        except OkdeskError as e:
            response = _json({"errors": e.errors}, e.status)
        state.record_call(
            CallRecord(
                method=name,
                params={"query": query, "body": body},
                at=at,
                status=response.status,
                response=json.loads(response.text)
                if response.content_type == "application/json"
                else response.text,
                path=f"{request.method} {request.path}",
                raw_query=_without_token(request.raw_path.partition("?")[2]),
            )
        )
        return response

    return handle


def _without_token(query: str) -> str:
    return "&".join(p for p in query.split("&") if p and not p.startswith("api_token="))


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.method != "POST" or not request.body_exists:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise OkdeskError(400, "Тело запроса должно быть JSON") from None
    if not isinstance(body, dict):
        raise OkdeskError(400, "Тело запроса должно быть JSON-объектом")
    return body


def _json(value: Any, status: int = 200) -> web.Response:
    return web.json_response(
        value, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False)
    )


async def _raise_404(state: OkdeskState, request: web.Request, body: dict[str, Any]) -> Any:
    raise OkdeskError(404, "Not found")


_not_found = _endpoint("unknown", _raise_404)


async def _on_shutdown(app: web.Application) -> None:
    await app[STATE].close()


def create_okdesk_app(state: OkdeskState | None = None) -> web.Application:
    """Okdesk's REST API under ``/api/v1/`` plus the service desk's side under ``/_sandbox/``."""
    app = web.Application()
    app[STATE] = state or OkdeskState()
    r = app.router
    issue = r"/api/v1/issues/{issue_id:\d+}"
    r.add_get("/api/v1/issues/statuses", _endpoint("list_statuses", list_statuses))
    r.add_get("/api/v1/issues/list", _endpoint("list_issues", list_issues))
    r.add_get("/api/v1/issues/count", _endpoint("count_issues", count_issues))
    r.add_post("/api/v1/issues/", _endpoint("create_issue", create_issue))
    r.add_post("/api/v1/issues", _endpoint("create_issue", create_issue))
    r.add_get(issue, _endpoint("get_issue", get_issue))
    r.add_get(issue + "/comments", _endpoint("list_comments", list_comments))
    r.add_post(issue + "/comments", _endpoint("add_comment", add_comment))
    r.add_post(issue + "/rates", _endpoint("rate_issue", rate_issue))
    r.add_get("/api/v1/contacts/", _endpoint("find_contact", find_contact))
    r.add_get("/api/v1/contacts", _endpoint("find_contact", find_contact))
    r.add_route("*", "/api/v1/{tail:.*}", _not_found)
    add_sandbox_routes(app, app[STATE])
    app.on_shutdown.append(_on_shutdown)
    return app


@dataclass(frozen=True)
class RunningOkdesk:
    """A started stand-in; ``api_url`` is what okrate's OKDESK_API_URL points at."""

    state: OkdeskState
    base_url: str

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v1/"

    @property
    def api_token(self) -> str:
        return self.state.api_token


@asynccontextmanager
async def running_okdesk(
    state: OkdeskState | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningOkdesk]:
    """Run the Okdesk stand-in for the duration of the block (a free port by default)."""
    state = state or OkdeskState()
    async with run_app(create_okdesk_app(state), host, port) as base_url:
        yield RunningOkdesk(state, base_url)


async def serve_okdesk(
    state: OkdeskState | None = None, host: str = "127.0.0.1", port: int = 8082
) -> None:
    """Serve the Okdesk stand-in until cancelled (for the CLI)."""
    await serve(create_okdesk_app(state), host, port)
