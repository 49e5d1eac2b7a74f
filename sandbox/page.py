"""The sandbox page: the Telegram chats and the Okdesk service desk of sandbox mode, in a browser.

Served by ``okrate run`` in sandbox mode (``sandbox/service.py``) on the sandbox's own port.
Left, each chat the bot wrote to, as a Telegram client shows it; the person acts as the chat's
user (presses inline buttons, types, shares a contact) through ``SandboxUser``, which produces
the updates the real Telegram would send. Right (and alone at ``/okdesk``), the Okdesk issues with
their comments and a control that changes an issue's status: the Okdesk stand-in then posts its
webhook to the ingest, and the page shows how that delivery was answered.

The page is static HTML, CSS and JavaScript (``sandbox/static/``) polling ``GET /api/state``
about once a second; the JSON is built here from the in-process state objects. Everything shown
that came from the bot or from Okdesk is escaped: a bot message is rebuilt from its plain text
and entities (only Telegram's formatting becomes tags), an Okdesk comment keeps only a few
harmless tags. With ``admin_token`` set, every page and JSON endpoint asks for it: a bearer
header, or a login form that sets an HttpOnly cookie.

Routes: ``/``, ``/okdesk``, ``/okdesk/issues/{id}`` (the page), ``/login``, ``/logout``,
``/static/...``, and the JSON API:

- ``GET /api/state``: everything the page shows (ETag; ``If-None-Match`` answers 304)
- ``GET /api/telegram/chats``, ``GET /api/telegram/chats/{chat_id}``
- ``POST /api/telegram/users`` ``{"id", "first_name", "last_name"?, "username"?, "phone_number"?}``
- ``POST /api/telegram/chats/{chat_id}/send`` ``{"text"}``
- ``POST /api/telegram/chats/{chat_id}/press`` ``{"message_id"?, "data"? | "text"?}``
- ``POST /api/telegram/chats/{chat_id}/share-contact`` ``{"phone_number"?}``
- ``GET /api/okdesk/issues``, ``GET /api/okdesk/issues/{issue_id}``, ``GET /api/okdesk/webhooks``
- ``POST /api/okdesk/issues/{issue_id}/status`` ``{"status", "comment"?}``: the deliveries
"""

from __future__ import annotations

import hashlib
import hmac
import html
import itertools
import json
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from sandbox.http_json import body_of, dumps, fail, int_arg, reply
from sandbox.okdesk_objects import Issue
from sandbox.okdesk_state import OkdeskError, OkdeskState
from sandbox.telegram_objects import StoredMessage, TgChat, keyboard_rows
from sandbox.telegram_state import TelegramState
from sandbox.telegram_user import SandboxError, SandboxUser
from sandbox.webhooks import WebhookDelivery

STATIC_DIR = Path(__file__).with_name("static")
SESSION_COOKIE = "okrate_sandbox_session"
MAX_MESSAGES = 300  # per chat, the newest
MAX_LOG = 50  # webhook deliveries and Okdesk API calls shown
RATE_NAMES = {"bad": "Плохо", "normal": "Нормально", "good": "Хорошо"}
SAFE_SCHEMES = ("http", "https", "tg", "mailto")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# -- rendering: nothing from the bot or from Okdesk reaches the page unescaped ------------------

_ENTITY_TAGS: dict[str, tuple[str, str]] = {  # entity type -> (tag, class)
    "bold": ("b", ""),
    "italic": ("i", ""),
    "underline": ("u", ""),
    "strikethrough": ("s", ""),
    "spoiler": ("span", "tg-spoiler"),
    "code": ("code", ""),
    "pre": ("pre", ""),
    "blockquote": ("blockquote", ""),
    "expandable_blockquote": ("blockquote", "expandable"),
    "bot_command": ("span", "tg-command"),
    "mention": ("span", "tg-mention"),
    "hashtag": ("span", "tg-mention"),
    "cashtag": ("span", "tg-mention"),
    "phone_number": ("span", "tg-mention"),
}


def safe_url(url: str | None) -> str | None:
    """``url`` if a link to it is harmless (http, https, tg, mailto), else None."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in SAFE_SCHEMES else None


def _open_tag(entity: dict[str, Any], segment_text: str) -> tuple[str, str]:
    kind = str(entity.get("type"))
    if kind in ("text_link", "url", "email"):
        target = entity.get("url") if kind == "text_link" else segment_text
        if kind == "email":
            target = f"mailto:{segment_text}"
        elif kind == "url" and "://" not in segment_text:
            target = f"http://{segment_text}"
        href = safe_url(target)
        if href is None:
            return f'<span class="tg-bad-link" title="{html.escape(str(target))}">', "</span>"
        return (
            f'<a href="{html.escape(href)}" target="_blank" rel="noopener noreferrer">',
            "</a>",
        )
    tag, cls = _ENTITY_TAGS.get(kind, ("span", ""))
    return (f'<{tag} class="{cls}">' if cls else f"<{tag}>"), f"</{tag}>"


def render_entities(text: str | None, entities: list[dict[str, Any]] | None) -> str:
    """Safe HTML for a message's plain ``text`` and its Bot API ``entities``.

    Offsets are UTF-16 code units, as in the Bot API. Only Telegram's formatting becomes tags
    (links only to http/https/tg/mailto); all text is escaped. Entities that overlap without
    nesting are closed and reopened, so the result is always well-formed.
    """
    if not text:
        return ""
    units = text.encode("utf-16-le")
    size = len(units) // 2

    def piece(start: int, end: int) -> str:
        return units[start * 2 : end * 2].decode("utf-16-le", errors="replace")

    spans: list[tuple[int, int, int, dict[str, Any]]] = []
    for index, e in enumerate(entities or []):
        try:
            start = max(0, int(e["offset"]))
            end = min(size, start + int(e["length"]))
        except (KeyError, TypeError, ValueError):
            continue
        if end > start:
            spans.append((start, end, index, e))
    spans.sort(key=lambda s: (s[0], -s[1], s[2]))
    cuts = sorted({0, size} | {s[0] for s in spans} | {s[1] for s in spans})
    out: list[str] = []
    stack: list[tuple[tuple[int, int, int, dict[str, Any]], str]] = []  # (span, closing tag)
    for left, right in itertools.pairwise(cuts):
        active = [s for s in spans if s[0] <= left < s[1]]
        keep = 0
        while keep < len(stack) and keep < len(active) and stack[keep][0] is active[keep]:
            keep += 1
        while len(stack) > keep:
            out.append(stack.pop()[1])
        for span in active[keep:]:
            opening, closing = _open_tag(span[3], piece(span[0], span[1]))
            out.append(opening)
            stack.append((span, closing))
        out.append(html.escape(piece(left, right), quote=False))
    while stack:
        out.append(stack.pop()[1])
    return "".join(out)


_COMMENT_TAGS = {
    "b", "strong", "i", "em", "u", "s", "strike", "del", "small", "sub", "sup", "p", "div",
    "span", "br", "ul", "ol", "li", "code", "pre", "blockquote", "a", "hr",
}  # fmt: skip
_VOID_TAGS = {"br", "hr"}


class _CommentSanitizer(HTMLParser):
    """Keeps a few harmless tags (no attributes but a safe ``href``); shows the rest as text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _COMMENT_TAGS:
            self.out.append(html.escape(self.get_starttag_text() or f"<{tag}>", quote=False))
            return
        if tag in _VOID_TAGS:
            self.out.append(f"<{tag}>")
            return
        if tag == "a":
            href = safe_url(dict(attrs).get("href"))
            self.out.append(
                f'<a href="{html.escape(href)}" target="_blank" rel="noopener noreferrer">'
                if href
                else "<a>"
            )
        else:
            self.out.append(f"<{tag}>")
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID_TAGS:
            self.out.append(f"<{tag}>")
        else:
            self.out.append(html.escape(self.get_starttag_text() or f"<{tag}/>", quote=False))

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID_TAGS:
            return
        if tag not in _COMMENT_TAGS or tag not in self.open:
            self.out.append(html.escape(f"</{tag}>", quote=False))
            return
        while self.open:
            top = self.open.pop()
            self.out.append(f"</{top}>")
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data, quote=False))

    def result(self) -> str:
        self.close()
        return "".join(self.out) + "".join(f"</{t}>" for t in reversed(self.open))


def sanitize_comment(content: str) -> str:
    """Safe HTML for an Okdesk comment (Okdesk comments are HTML)."""
    sanitizer = _CommentSanitizer()
    sanitizer.feed(content)
    return sanitizer.result()


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


# -- admin token -------------------------------------------------------------------------------


def _session_value(token: str) -> str:
    """What the cookie holds: derived from the token, so the cookie never reveals it."""
    return hmac.new(token.encode(), b"okrate sandbox page session", hashlib.sha256).hexdigest()


def _authorized(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), _session_value(token).encode())


def _local_path(value: str | None) -> str:
    """A redirect target after login: a path on this site only."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    return value


def login_page(next_path: str, error: str | None = None, status: int = 401) -> web.Response:
    message = f'<p class="login-error">{html.escape(error)}</p>' if error else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>okrate sandbox · login</title><link rel="stylesheet" href="/static/style.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml"></head>
<body class="login-body"><form class="login" method="post" action="/login">
<h1>okrate sandbox</h1><p>This page shows names, companies and issues. Enter the
<code>ADMIN_TOKEN</code> to continue.</p>{message}
<input type="hidden" name="next" value="{html.escape(_local_path(next_path))}">
<label>Admin token <input type="password" name="token" autocomplete="current-password"
autofocus required></label><button type="submit">Log in</button></form></body></html>"""
    return web.Response(text=body, status=status, content_type="text/html")


# -- the app -----------------------------------------------------------------------------------

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def create_page_app(
    telegram: TelegramState,
    okdesk: OkdeskState,
    webhook_url: str,
    admin_token: str | None = None,
) -> web.Application:
    """The sandbox page over the stand-ins' states (shared in-process with their APIs).

    ``webhook_url`` is where the Okdesk stand-in's webhooks go (registered on ``okdesk`` as a
    webhook target by the caller); the page only shows it. ``admin_token``: when set, every page
    and JSON endpoint requires it.
    """

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if admin_token and not (
            path in ("/login", "/logout")
            or path.startswith("/static/")
            or _authorized(request, admin_token)
        ):
            if path.startswith("/api/"):
                return web.json_response(
                    {"error": "this endpoint requires the admin token (Authorization: Bearer …)"},
                    status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="okrate sandbox"'},
                )
            return login_page(request.path_qs)
        if (
            path.startswith("/api/")
            and request.method == "POST"
            and request.content_type != "application/json"
        ):
            # also keeps cross-site form posts out: they cannot send JSON
            return web.json_response({"error": "send a JSON body"}, status=415)
        response = await handler(request)
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app = web.Application(middlewares=[guard])
    index_html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")

    def full_state() -> dict[str, Any]:
        return {
            "telegram": telegram_view(telegram),
            "okdesk": okdesk_view(okdesk),
            "webhook_url": webhook_url,
            "protected": bool(admin_token),
        }

    def user_of(request: web.Request) -> SandboxUser:
        chat_id = int_arg(request, "chat_id")
        chat = telegram.chats.get(chat_id)
        if chat is None or chat.type != "private" or chat.user is None:
            raise fail(404, f"no private chat {chat_id}")
        return SandboxUser(telegram, chat.user)

    async def page(request: web.Request) -> web.Response:
        return web.Response(
            text=index_html, content_type="text/html", headers={"Cache-Control": "no-store"}
        )

    async def get_state(request: web.Request) -> web.Response:
        body = dumps(full_state())
        etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(text=body, content_type="application/json", headers={"ETag": etag})

    async def list_chats(request: web.Request) -> web.Response:
        return reply(telegram_view(telegram))

    async def get_chat(request: web.Request) -> web.Response:
        chat_id = int_arg(request, "chat_id")
        if chat_id not in telegram.chats:
            raise fail(404, f"no chat {chat_id}")
        return reply(chat_view(telegram, chat_id))

    async def create_user(request: web.Request) -> web.Response:
        body = await body_of(request)
        try:
            user_id = int(body["id"])
            first_name = str(body.get("first_name") or "").strip()
            if not first_name:
                raise ValueError("first_name is required")
            if user_id in telegram.users:
                raise fail(409, f"user {user_id} exists already")
            optional = {
                k: str(body[k]).strip() or None
                for k in ("last_name", "username", "phone_number")
                if body.get(k)
            }
            user = telegram.user(user_id, first_name, **optional)
        except (KeyError, TypeError, ValueError) as e:
            raise fail(400, f"bad user: {e}") from None
        telegram.notify()
        return reply(chat_view(telegram, user.id))

    async def act(request: web.Request) -> web.Response:
        user = user_of(request)
        body = await body_of(request)
        action = request.match_info["action"]
        try:
            if action == "send":
                text = str(body.get("text") or "")
                if not text.strip():
                    raise fail(400, "type something")
                update = user.send(text)
            elif action == "press":
                message_id = body.get("message_id")
                update = user.press(
                    body.get("data"),
                    text=body.get("text"),
                    message_id=int(message_id) if message_id is not None else None,
                )
            elif action == "share-contact":
                update = user.share_contact(body.get("phone_number") or None)
            else:
                raise fail(404, f"no action {action}")
        except SandboxError as e:
            raise fail(409, str(e)) from None
        except (TypeError, ValueError) as e:
            raise fail(400, str(e)) from None
        return reply({"update": update, "chat": chat_view(telegram, user.id)})

    def one_issue(issue_id: int) -> dict[str, Any]:
        issue = okdesk.issues.get(issue_id)
        if issue is None:
            raise fail(404, f"no issue {issue_id}")
        deliveries = [delivery_view(n, d) for n, d in enumerate(okdesk.webhook_deliveries, 1)]
        return issue_view(okdesk, issue, deliveries)

    async def list_issues(request: web.Request) -> web.Response:
        return reply(okdesk_view(okdesk))

    async def get_issue(request: web.Request) -> web.Response:
        return reply(one_issue(int_arg(request, "issue_id")))

    async def change_status(request: web.Request) -> web.Response:
        issue_id = int_arg(request, "issue_id")
        body = await body_of(request)
        status = str(body.get("status") or "")
        comment = str(body.get("comment") or "").strip() or None
        start = len(okdesk.webhook_deliveries)
        try:
            deliveries = await okdesk.change_status(issue_id, status, comment=comment)
        except OkdeskError as e:
            raise fail(
                404 if e.status == 404 else 400, json.dumps(e.errors, ensure_ascii=False)
            ) from None
        return reply(
            {
                "issue": one_issue(issue_id),
                "deliveries": [delivery_view(start + n, d) for n, d in enumerate(deliveries, 1)],
            }
        )

    async def list_webhooks(request: web.Request) -> web.Response:
        deliveries = [delivery_view(n, d) for n, d in enumerate(okdesk.webhook_deliveries, 1)]
        return reply({"webhook_url": webhook_url, "deliveries": deliveries})

    async def login_form(request: web.Request) -> web.Response:
        if admin_token is None or _authorized(request, admin_token):
            raise web.HTTPSeeOther(_local_path(request.query.get("next")))
        return login_page(request.query.get("next", "/"), status=200)

    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        next_path = _local_path(str(form.get("next") or "/"))
        given = str(form.get("token") or "")
        if admin_token is None:
            raise web.HTTPSeeOther(next_path)
        if not hmac.compare_digest(given.encode(), admin_token.encode()):
            return login_page(next_path, "Wrong token.")
        response = web.HTTPSeeOther(next_path)
        response.set_cookie(
            SESSION_COOKIE,
            _session_value(admin_token),
            httponly=True,
            samesite="Strict",
            secure=request.secure,
            path="/",
        )
        raise response

    async def logout(request: web.Request) -> web.Response:
        response = web.HTTPSeeOther("/login" if admin_token else "/")
        response.del_cookie(SESSION_COOKIE, path="/")
        raise response

    r = app.router
    r.add_get("/", page)
    r.add_get("/okdesk", page)
    r.add_get("/okdesk/", page)
    r.add_get(r"/okdesk/issues/{issue_id:\d+}", page)
    r.add_get("/login", login_form)
    r.add_post("/login", login)
    r.add_post("/logout", logout)
    r.add_get("/api/state", get_state)
    r.add_get("/api/telegram/chats", list_chats)
    r.add_get(r"/api/telegram/chats/{chat_id:-?\d+}", get_chat)
    r.add_post("/api/telegram/users", create_user)
    r.add_post(r"/api/telegram/chats/{chat_id:-?\d+}/{action}", act)
    r.add_get("/api/okdesk/issues", list_issues)
    r.add_get(r"/api/okdesk/issues/{issue_id:\d+}", get_issue)
    r.add_post(r"/api/okdesk/issues/{issue_id:\d+}/status", change_status)
    r.add_get("/api/okdesk/webhooks", list_webhooks)
    r.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False)
    return app
