"""What the sandbox page shows, as JSON (`GET /api/state` and the other reads): built from the
stand-ins' in-process states, every text from the bot or from Okdesk escaped (`sandbox.page_html`)."""

from __future__ import annotations

from typing import Any

from sandbox.okdesk_objects import Issue
from sandbox.okdesk_state import OkdeskState
from sandbox.page_html import render_entities, safe_url, sanitize_comment
from sandbox.telegram_objects import StoredMessage, TgChat, keyboard_rows
from sandbox.telegram_state import TelegramState
from sandbox.webhooks import WebhookDelivery

MAX_MESSAGES = 300  # per chat, the newest
MAX_LOG = 50  # webhook deliveries and Okdesk API calls shown
RATE_NAMES = {"bad": "Плохо", "normal": "Нормально", "good": "Хорошо"}


# -- what the page shows, as JSON ------------------------------------------------------------


def _full_name(first: str | None, last: str | None) -> str:
    return " ".join(p for p in (first, last) if p)


def _chat_title(chat: TgChat) -> str:
    if chat.user is not None:
        return _full_name(chat.user.first_name, chat.user.last_name) or f"User {chat.id}"
    return chat.title or f"Group {chat.id}"


def _message_view(m: StoredMessage, pending: set[tuple[int, str]]) -> dict[str, Any]:
    buttons = [
        [
            {
                "text": b.text,
                "callback_data": b.callback_data,
                "url": safe_url(b.url),
                "pending": (m.message_id, b.callback_data) in pending,
            }
            for b in row
        ]
        for row in keyboard_rows(m.reply_markup)
    ]
    return {
        "message_id": m.message_id,
        "sender": m.sender,
        "date": m.date,
        "edited": m.edit_date is not None,
        "edit_date": m.edit_date,
        "text": m.text,
        "html": render_entities(m.text, m.entities),
        "previous_texts": list(m.previous_texts),
        "contact": m.contact,
        "buttons": buttons,
    }


def _visible_messages(chat: TgChat) -> list[StoredMessage]:
    messages = [m for m in chat.messages.values() if not m.deleted]
    return sorted(messages, key=lambda m: m.message_id)[-MAX_MESSAGES:]


def chat_view(tg: TelegramState, chat_id: int) -> dict[str, Any]:
    chat = tg.chats[chat_id]
    now = tg.clock()
    queries = [q for q in tg.callback_queries.values() if q.chat_id == chat_id]
    pending = {
        (q.message_id, q.data)
        for q in queries
        if q.answered_at is None and now - q.created_at < tg.callback_answer_timeout
    }
    messages = _visible_messages(chat)
    keyboard = chat.reply_keyboard or {}
    user = chat.user
    return {
        "id": chat.id,
        "type": chat.type,
        "title": _chat_title(chat),
        "username": user.username if user else None,
        "phone_number": user.phone_number if user else None,
        "can_act": chat.type == "private" and user is not None,
        "blocked": chat.blocked,
        "last_date": messages[-1].date if messages else None,
        "messages": [_message_view(m, pending) for m in messages],
        "reply_keyboard": [
            [{"text": b.text, "request_contact": b.request_contact} for b in row]
            for row in keyboard_rows(chat.reply_keyboard)
        ],
        "input_placeholder": keyboard.get("input_field_placeholder"),
        "callback_answers": [
            {
                "id": q.id,
                "message_id": q.message_id,
                "data": q.data,
                "text": q.answer_text,
                "show_alert": q.show_alert,
            }
            for q in queries
            if q.answered_at is not None and q.answer_text
        ],
    }


def telegram_view(tg: TelegramState) -> dict[str, Any]:
    chats = [chat_view(tg, chat_id) for chat_id in tg.chats]
    chats.sort(key=lambda c: (-(c["last_date"] or 0), c["id"]))
    return {
        "bot": {"username": tg.bot_username, "first_name": tg.bot_first_name},
        "commands": [
            {"command": str(c.get("command", "")), "description": str(c.get("description", ""))}
            for c in tg.commands
            if isinstance(c, dict)
        ],
        "chats": chats,
    }


def delivery_view(n: int, d: WebhookDelivery) -> dict[str, Any]:
    try:
        payload = d.payload
    except ValueError:
        payload = {}
    issue = payload.get("issue") if isinstance(payload, dict) else None
    event = payload.get("event") if isinstance(payload, dict) else None
    return {
        "n": n,
        "url": d.url,
        "status": d.status,
        "ok": d.ok,
        "error": d.error,
        "event_type": event.get("event_type") if isinstance(event, dict) else None,
        "issue_id": str(issue.get("id")) if isinstance(issue, dict) else None,
        "response": d.response_text[:300],
    }


def issue_view(ok: OkdeskState, issue: Issue, deliveries: list[dict[str, Any]]) -> dict[str, Any]:
    contact = ok.contacts.get(issue.contact_id) if issue.contact_id else None
    company = ok.companies.get(issue.company_id) if issue.company_id else None
    assignee = ok.employees.get(issue.assignee_id) if issue.assignee_id else None
    group = ok.groups.get(issue.group_id) if issue.group_id else None
    status = ok.statuses.get(issue.status)
    old = ok.statuses.get(issue.old_status) if issue.old_status else None
    return {
        "id": issue.id,
        "title": issue.title,
        "description": issue.description,
        "created_at": issue.created_at,
        "completed_at": issue.completed_at,
        "status": {"code": issue.status, "name": status.name if status else issue.status},
        "old_status": {"code": old.code, "name": old.name} if old else None,
        "contact": {
            "id": contact.id,
            "name": contact.full_name,
            "phone": contact.phone,
            "mobile_phone": contact.mobile_phone,
            "email": contact.email,
        }
        if contact
        else (
            {"id": issue.contact_id, "name": f"#{issue.contact_id}"} if issue.contact_id else None
        ),
        "company": {"id": company.id, "name": company.name} if company else None,
        "assignee": {"id": assignee.id, "name": _full_name(assignee.last_name, assignee.first_name)}
        if assignee
        else None,
        "group": {"id": group.id, "name": group.name} if group else None,
        "rate": issue.rate,
        "rate_name": RATE_NAMES.get(issue.rate or "", issue.rate),
        "comments": [
            {
                "id": c.id,
                "html": sanitize_comment(c.content),
                "public": c.public,
                "author": {"id": c.author_id, "name": c.author_name, "type": c.author_type},
                "published_at": c.published_at,
            }
            for c in ok.comments_of(issue.id)
        ],
        "webhooks": [d for d in deliveries if d["issue_id"] == str(issue.id)][-10:],
    }


def okdesk_view(ok: OkdeskState) -> dict[str, Any]:
    deliveries = [delivery_view(n, d) for n, d in enumerate(ok.webhook_deliveries, start=1)]
    return {
        "statuses": [{"code": s.code, "name": s.name} for s in ok.statuses.values()],
        "issues": [issue_view(ok, ok.issues[i], deliveries) for i in sorted(ok.issues)],
        "webhook_targets": [
            {"url": t.url, "dialect": t.dialect, "signed": bool(t.secret)}
            for t in ok.webhook_targets
        ],
        "webhooks": deliveries[-MAX_LOG:],
        "calls": [
            {"endpoint": c.method, "path": c.path, "status": c.status, "at": c.at}
            for c in ok.calls[-MAX_LOG:]
        ],
    }
