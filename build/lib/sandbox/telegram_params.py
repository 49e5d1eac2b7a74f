"""Reading Bot API parameters (form fields are strings, JSON bodies are typed) and the
checks Telegram applies to message text and keyboards."""

from __future__ import annotations

import json
from typing import Any

from sandbox.telegram_errors import bad_request
from sandbox.telegram_html import HtmlParseError, parse_html, utf16_len

MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
_KEYBOARD_KINDS = ("inline_keyboard", "keyboard", "remove_keyboard", "force_reply")


def get_int(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise bad_request(f"wrong parameter {name}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"wrong parameter {name}") from None


def get_bool(params: dict[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def get_str(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    return None if value is None else str(value)


def get_json(params: dict[str, Any], name: str, error: str) -> Any:
    """A field that aiogram sends as a JSON string and JSON bodies send as an object."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(error) from None
    return value


def chat_id_of(params: dict[str, Any]) -> int:
    value = params.get("chat_id")
    if value is None or value == "":
        raise bad_request("chat_id is empty")
    try:
        return int(value)
    except (TypeError, ValueError):
        # "@channelusername" addressing is for channels, which this stand-in has none of
        raise bad_request("chat not found") from None


def render_text(params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The message's plain text and entities, as Telegram would store them."""
    text = get_str(params, "text")
    if text is None:
        raise bad_request("message text is empty")
    parse_mode = (get_str(params, "parse_mode") or "").strip()
    entities: list[dict[str, Any]] = []
    if parse_mode.lower() == "html":
        try:
            text, entities = parse_html(text)
        except HtmlParseError as e:
            raise bad_request(f"can't parse entities: {e}") from None
    elif parse_mode and parse_mode.lower() not in ("markdown", "markdownv2"):
        raise bad_request("unsupported parse_mode")
    elif not parse_mode:
        entities = get_json(params, "entities", "can't parse entities JSON object") or []
    text, entities = _strip(text, entities)
    if not text:
        raise bad_request("message text is empty")
    if utf16_len(text) > MAX_TEXT:
        raise bad_request("message is too long")
    return text, entities


def _strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram trims whitespace around a message; entities shift and shrink with it."""
    lead = utf16_len(text) - utf16_len(text.lstrip())
    stripped = text.strip()
    size = utf16_len(stripped)
    kept = []
    for e in entities:
        start = max(int(e["offset"]) - lead, 0)
        end = min(int(e["offset"]) + int(e["length"]) - lead, size)
        if end > start:
            kept.append({**e, "offset": start, "length": end - start})
    return stripped, kept


def reply_markup_of(params: dict[str, Any]) -> dict[str, Any] | None:
    markup = get_json(params, "reply_markup", "can't parse reply keyboard markup JSON object")
    if markup is None:
        return None
    if not isinstance(markup, dict) or not any(k in markup for k in _KEYBOARD_KINDS):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _check_inline(markup["inline_keyboard"])
    elif "keyboard" in markup:
        _check_rows(markup["keyboard"], "keyboard")
    return markup


def _check_rows(rows: Any, field: str) -> None:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad_request(f'field "{field}" of the {_kind(field)} must be an Array of Arrays')


def _kind(field: str) -> str:
    return "InlineKeyboardMarkup" if field == "inline_keyboard" else "ReplyKeyboardMarkup"


def _check_inline(rows: Any) -> None:
    _check_rows(rows, "inline_keyboard")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request("can't parse inline keyboard button: Text buttons are unallowed")
            actions = [k for k in button if k != "text"]
            if not actions:
                raise bad_request("text buttons are unallowed in the inline keyboard")
            if "callback_data" in button:
                data = button["callback_data"]
                size = len(str(data).encode("utf-8"))
                if not isinstance(data, str) or not 1 <= size <= MAX_CALLBACK_DATA:
                    raise bad_request("BUTTON_DATA_INVALID")
            if "url" in button and not str(button["url"]).startswith(
                ("http://", "https://", "tg://")
            ):
                raise bad_request("BUTTON_URL_INVALID")
