"""JSON endpoints under ``/_sandbox/`` for playing the user's side over HTTP (the sandbox
page): look at chats, write, press buttons, share a contact, block the bot, inject faults."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.faults import configure
from sandbox.http_json import body_of, fail, int_arg, reply
from sandbox.telegram_objects import keyboard_rows
from sandbox.telegram_state import TelegramState
from sandbox.telegram_user import SandboxError, SandboxUser


def chat_view(state: TelegramState, chat_id: int) -> dict[str, Any]:
    chat = state.chats[chat_id]
    return {
        "chat": chat.as_dict(),
        "blocked": chat.blocked,
        "messages": [e.as_dict() for e in state.transcript(chat_id)],
        "reply_keyboard": [[vars(b) for b in row] for row in keyboard_rows(chat.reply_keyboard)],
        "callback_answers": [
            vars(q) for q in state.callback_queries.values() if q.chat_id == chat_id
        ],
    }


def add_sandbox_routes(app: web.Application, state: TelegramState) -> None:
    def user_of(request: web.Request) -> SandboxUser:
        user_id = int_arg(request, "user_id")
        if user_id not in state.users:
            raise fail(404, f"no user {user_id}; create it with POST /_sandbox/users")
        return state.user(user_id)

    async def list_chats(request: web.Request) -> web.Response:
        return reply({"chats": [chat_view(state, chat_id) for chat_id in state.chats]})

    async def get_chat(request: web.Request) -> web.Response:
        chat_id = int_arg(request, "chat_id")
        if chat_id not in state.chats:
            raise fail(404, f"no chat {chat_id}")
        return reply(chat_view(state, chat_id))

    async def create_user(request: web.Request) -> web.Response:
        body = await body_of(request)
        try:
            user = state.user(
                int(body["id"]),
                str(body.get("first_name") or "Test"),
                last_name=body.get("last_name"),
                username=body.get("username"),
                phone_number=body.get("phone_number"),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise fail(400, f"bad user: {e}") from None
        return reply(chat_view(state, user.id))

    async def act(request: web.Request) -> web.Response:
        user = user_of(request)
        body = await body_of(request)
        action = request.match_info["action"]
        try:
            if action == "send":
                update = user.send(str(body.get("text", "")))
            elif action == "press":
                update = user.press(
                    body.get("data"), text=body.get("text"), message_id=body.get("message_id")
                )
            elif action == "share-contact":
                update = user.share_contact(body.get("phone_number"))
            elif action == "block":
                user.block_bot()
                update = None
            elif action == "unblock":
                user.unblock_bot()
                update = None
            else:
                raise fail(404, f"no action {action}")
        except SandboxError as e:
            raise fail(409, str(e)) from None
        return reply({"update": update, "chat": chat_view(state, user.id)})

    async def list_calls(request: web.Request) -> web.Response:
        method = request.query.get("method")
        calls = state.calls_to(method) if method else state.calls
        return reply({"calls": [vars(c) for c in calls]})

    async def set_faults(request: web.Request) -> web.Response:
        try:
            configure(state.faults, await body_of(request))
        except ValueError as e:
            raise fail(400, str(e)) from None
        return reply({"ok": True})

    app.router.add_get("/_sandbox/chats", list_chats)
    app.router.add_get("/_sandbox/chats/{chat_id}", get_chat)
    app.router.add_post("/_sandbox/users", create_user)
    app.router.add_post("/_sandbox/users/{user_id}/{action}", act)
    app.router.add_get("/_sandbox/calls", list_calls)
    app.router.add_post("/_sandbox/faults", set_faults)
