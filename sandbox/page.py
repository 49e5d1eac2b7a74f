"""The sandbox page: the Telegram chats and the Okdesk service desk of sandbox mode, in a browser.

Served by ``okrate run`` in sandbox mode (``sandbox/service.py``) on the sandbox's own port.
Left, each chat the bot wrote to, as a Telegram client shows it; the person acts as the chat's
user (presses inline buttons, types, shares a contact) through ``SandboxUser``, which produces
the updates the real Telegram would send. Right (and alone at ``/okdesk``), the Okdesk issues with
their comments and a control that changes an issue's status: the Okdesk stand-in then posts its
webhook to the ingest, and the page shows how that delivery was answered.

The page is static HTML, CSS and JavaScript (``sandbox/static/``) polling ``GET /api/state``
about once a second; the JSON is built from the in-process state objects (``sandbox/page_state.py``).
Everything shown that came from the bot or from Okdesk is escaped (``sandbox/page_html.py``): a bot
message is rebuilt from its plain text and entities (only Telegram's formatting becomes tags), an
Okdesk comment keeps only a few harmless tags. With ``admin_token`` set, every page and JSON endpoint asks for it: a bearer
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
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.http_json import body_of, dumps, fail, int_arg, reply
from sandbox.okdesk_state import OkdeskError, OkdeskState
from sandbox.page_state import chat_view, delivery_view, issue_view, okdesk_view, telegram_view
from sandbox.telegram_state import TelegramState
from sandbox.telegram_user import SandboxError, SandboxUser

STATIC_DIR = Path(__file__).with_name("static")
SESSION_COOKIE = "okrate_sandbox_session"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
