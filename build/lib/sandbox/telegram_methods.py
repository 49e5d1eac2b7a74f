"""The Bot API methods the stand-in implements, with the rules real Telegram enforces."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from sandbox.telegram_errors import bad_request, conflict, not_modified, query_too_old
from sandbox.telegram_params import (
    chat_id_of,
    get_bool,
    get_int,
    get_json,
    get_str,
    render_text,
    reply_markup_of,
)
from sandbox.telegram_state import TelegramState
from sandbox.telegram_updates import PollTerminated

Method = Callable[[TelegramState, dict[str, Any]], Awaitable[Any]]

_CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


async def get_me(state: TelegramState, params: dict[str, Any]) -> Any:
    me = state.bot.as_dict()
    me.update(
        can_join_groups=True,
        can_read_all_group_messages=False,
        supports_inline_queries=False,
        can_connect_to_business=False,
        has_main_web_app=False,
    )
    return me


async def get_updates(state: TelegramState, params: dict[str, Any]) -> Any:
    if state.webhook.active:
        raise conflict(
            "can't use getUpdates method while webhook is active; use deleteWebhook to delete "
            "the webhook first"
        )
    offset = get_int(params, "offset") or 0
    limit = min(max(get_int(params, "limit") or 100, 1), 100)
    timeout = max(get_int(params, "timeout") or 0, 0)
    state.updates.set_allowed(get_json(params, "allowed_updates", "can't parse allowed_updates"))
    try:
        return await state.updates.poll(offset, limit, timeout)
    except PollTerminated as e:
        raise conflict(str(e)) from None


async def set_webhook(state: TelegramState, params: dict[str, Any]) -> Any:
    url = get_str(params, "url") or ""
    if not url:
        return await delete_webhook(state, params)
    if not url.startswith(("http://", "https://")):
        raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
    secret = get_str(params, "secret_token")
    if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    if get_bool(params, "drop_pending_updates"):
        state.updates.drop_all()
    state.updates.set_allowed(get_json(params, "allowed_updates", "can't parse allowed_updates"))
    state.updates.terminate_poll("terminated by setWebhook request")
    await state.webhook.start(url, secret)
    return True


async def delete_webhook(state: TelegramState, params: dict[str, Any]) -> Any:
    if get_bool(params, "drop_pending_updates"):
        state.updates.drop_all()
    await state.webhook.stop()
    return True


async def get_webhook_info(state: TelegramState, params: dict[str, Any]) -> Any:
    hook = state.webhook
    info: dict[str, Any] = {
        "url": hook.url,
        "has_custom_certificate": False,
        "pending_update_count": len(state.updates.pending),
    }
    if hook.active:
        info["max_connections"] = 40
        info["ip_address"] = "127.0.0.1"
        info["allowed_updates"] = sorted(state.updates.allowed)
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
    return info


async def send_message(state: TelegramState, params: dict[str, Any]) -> Any:
    chat = state.chat_for_sending(chat_id_of(params))
    text, entities = render_text(params)
    markup = reply_markup_of(params)
    state.check_flood(chat)
    inline = markup if markup and "inline_keyboard" in markup else None
    message = state.add_message(chat, state.bot, text=text, entities=entities, reply_markup=inline)
    state.note_sent(chat)
    if markup and "keyboard" in markup:
        chat.reply_keyboard = markup
    elif markup and markup.get("remove_keyboard"):
        chat.reply_keyboard = None
    return message.as_dict()


def _message_to_edit(state: TelegramState, params: dict[str, Any], verb: str = "edit") -> Any:
    if params.get("inline_message_id") and params.get("chat_id") is None:
        raise bad_request("MESSAGE_ID_INVALID")
    chat = state.existing_chat(chat_id_of(params))
    message_id = get_int(params, "message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    message = chat.messages.get(message_id)
    if message is None or message.deleted:
        raise bad_request(f"message to {verb} not found")
    return message


def _inline_markup(params: dict[str, Any]) -> dict[str, Any] | None:
    markup = reply_markup_of(params)
    if markup is not None and "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")
    return markup


async def edit_message_text(state: TelegramState, params: dict[str, Any]) -> Any:
    message = _message_to_edit(state, params)
    if message.sender != "bot":
        raise bad_request("message can't be edited")
    if message.text is None:
        raise bad_request("there is no text in the message to edit")
    text, entities = render_text(params)
    markup = _inline_markup(params)  # omitted: the keyboard goes away, as in Telegram
    if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
        raise not_modified()
    message.previous_texts.append(message.text)
    message.text, message.entities, message.reply_markup = text, entities, markup
    message.edit_date = int(state.clock())
    return message.as_dict()


async def edit_message_reply_markup(state: TelegramState, params: dict[str, Any]) -> Any:
    message = _message_to_edit(state, params)
    if message.sender != "bot":
        raise bad_request("message can't be edited")
    markup = _inline_markup(params)
    if markup == message.reply_markup:
        raise not_modified()
    message.reply_markup = markup
    message.edit_date = int(state.clock())
    return message.as_dict()


async def delete_message(state: TelegramState, params: dict[str, Any]) -> Any:
    message = _message_to_edit(state, params, verb="delete")
    message.deleted = True
    return True


async def answer_callback_query(state: TelegramState, params: dict[str, Any]) -> Any:
    query = state.callback_queries.get(get_str(params, "callback_query_id") or "")
    if (
        query is None
        or query.answered_at is not None
        or state.clock() - query.created_at > state.callback_answer_timeout
    ):
        raise query_too_old()
    text = get_str(params, "text")
    if text is not None and len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    query.answered_at = state.clock()
    query.answer_text = text
    query.show_alert = get_bool(params, "show_alert")
    return True


async def send_chat_action(state: TelegramState, params: dict[str, Any]) -> Any:
    state.chat_for_sending(chat_id_of(params))
    if get_str(params, "action") not in _CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True


async def set_my_commands(state: TelegramState, params: dict[str, Any]) -> Any:
    commands = get_json(params, "commands", "can't parse commands JSON object")
    if not isinstance(commands, list):
        raise bad_request('parameter "commands" is required')
    state.commands = commands
    return True


async def get_my_commands(state: TelegramState, params: dict[str, Any]) -> Any:
    return state.commands


async def delete_my_commands(state: TelegramState, params: dict[str, Any]) -> Any:
    state.commands = []
    return True


METHODS: dict[str, tuple[str, Method]] = {
    name.lower(): (name, fn)
    for name, fn in {
        "getMe": get_me,
        "getUpdates": get_updates,
        "setWebhook": set_webhook,
        "deleteWebhook": delete_webhook,
        "getWebhookInfo": get_webhook_info,
        "sendMessage": send_message,
        "editMessageText": edit_message_text,
        "editMessageReplyMarkup": edit_message_reply_markup,
        "deleteMessage": delete_message,
        "answerCallbackQuery": answer_callback_query,
        "sendChatAction": send_chat_action,
        "setMyCommands": set_my_commands,
        "getMyCommands": get_my_commands,
        "deleteMyCommands": delete_my_commands,
    }.items()
}
"""Lower-cased method name -> (canonical name, implementation)."""
