"""JSON endpoints under ``/_sandbox/`` for playing the service desk (the sandbox page): see
and create issues and contacts, resolve an issue (Okdesk then posts its webhook), register
webhook targets, look at calls and deliveries, inject faults."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.faults import configure
from sandbox.http_json import body_of, fail, int_arg, reply
from sandbox.okdesk_state import OkdeskError, OkdeskState
from sandbox.webhooks import DIALECTS, WebhookDelivery


def delivery_view(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "url": d.url,
        "status": d.status,
        "error": d.error,
        "event_type": d.payload.get("event", {}).get("event_type"),
        "payload": d.payload,
        "response": d.response_text[:2000],
    }


def add_sandbox_routes(app: web.Application, state: OkdeskState) -> None:
    def issue_view(issue_id: int) -> dict[str, Any]:
        issue = state.issue(issue_id)
        return {
            **state.issue_json(issue),
            "comment_list": [c.as_dict() for c in state.comments_of(issue_id)],
        }

    async def list_issues(request: web.Request) -> web.Response:
        return reply({"issues": [issue_view(i) for i in sorted(state.issues)]})

    async def create_issue(request: web.Request) -> web.Response:
        body = await body_of(request)
        try:
            issue = state.add_issue(
                str(body["title"]),
                contact_id=body.get("contact_id"),
                company_id=body.get("company_id"),
                status=str(body.get("status", "opened")),
                description=str(body.get("description", "")),
            )
        except (KeyError, ValueError) as e:
            raise fail(400, f"bad issue: {e}") from None
        return reply(issue_view(issue.id))

    async def change_status(request: web.Request) -> web.Response:
        issue_id = int_arg(request, "issue_id")
        body = await body_of(request)
        dialect = body.get("dialect", "okdesk")
        if dialect not in DIALECTS:
            raise fail(400, f"dialect is one of {', '.join(DIALECTS)}")
        try:
            deliveries = await state.change_status(
                issue_id,
                str(body.get("status", "completed")),
                comment=body.get("comment"),
                webhook_url=body.get("webhook_url"),
                dialect=dialect,
                secret=body.get("secret"),
            )
        except OkdeskError as e:
            raise fail(404 if e.status == 404 else 400, str(e.errors)) from None
        return reply(
            {"issue": issue_view(issue_id), "deliveries": [delivery_view(d) for d in deliveries]}
        )

    async def list_contacts(request: web.Request) -> web.Response:
        return reply({"contacts": [c.as_dict() for c in state.contacts.values()]})

    async def create_contact(request: web.Request) -> web.Response:
        body = await body_of(request)
        try:
            contact = state.add_contact(
                str(body["first_name"]),
                str(body.get("last_name", "")),
                phone=body.get("phone"),
                company_id=body.get("company_id"),
            )
        except (KeyError, ValueError) as e:
            raise fail(400, f"bad contact: {e}") from None
        return reply(contact.as_dict())

    async def add_target(request: web.Request) -> web.Response:
        body = await body_of(request)
        if not isinstance(body.get("url"), str) or body.get("dialect", "okdesk") not in DIALECTS:
            raise fail(400, "give url and a dialect (okdesk or seed)")
        target = state.add_webhook_target(
            body["url"], body.get("dialect", "okdesk"), body.get("secret")
        )
        return reply({"url": target.url, "dialect": target.dialect, "signed": bool(target.secret)})

    async def list_deliveries(request: web.Request) -> web.Response:
        return reply({"deliveries": [delivery_view(d) for d in state.webhook_deliveries]})

    async def list_calls(request: web.Request) -> web.Response:
        endpoint = request.query.get("endpoint")
        calls = state.calls_to(endpoint) if endpoint else state.calls
        return reply({"calls": [vars(c) for c in calls]})

    async def set_faults(request: web.Request) -> web.Response:
        try:
            configure(state.faults, await body_of(request))
        except ValueError as e:
            raise fail(400, str(e)) from None
        return reply({"ok": True})

    async def set_webhooks_down(request: web.Request) -> web.Response:
        """`{"down": true}`: every webhook delivery fails as if the ingest were unreachable
        (Okdesk documents no retry); `{"down": false}` delivers again."""
        body = await body_of(request)
        if not isinstance(body.get("down"), bool):
            raise fail(400, 'give {"down": true} or {"down": false}')
        state.webhooks_down = body["down"]
        return reply({"down": state.webhooks_down})

    r = app.router
    r.add_get("/_sandbox/issues", list_issues)
    r.add_post("/_sandbox/issues", create_issue)
    r.add_post("/_sandbox/issues/{issue_id}/status", change_status)
    r.add_get("/_sandbox/contacts", list_contacts)
    r.add_post("/_sandbox/contacts", create_contact)
    r.add_post("/_sandbox/webhook-targets", add_target)
    r.add_get("/_sandbox/webhooks", list_deliveries)
    r.add_post("/_sandbox/webhooks/down", set_webhooks_down)
    r.add_get("/_sandbox/calls", list_calls)
    r.add_post("/_sandbox/faults", set_faults)
