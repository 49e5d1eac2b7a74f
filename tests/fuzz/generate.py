"""The fuzz drill's inputs, generated from a seed (pure: no I/O). Each input is a `Http` request
for the ingest, or a `Press`/`Text` for the Telegram stand-in, with the kind it belongs to."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from dataclasses import dataclass, field
from typing import Any

from sandbox.webhooks import build_webhook

ODD_TEXT = ["", " ", "\u0000", "\ud800", "\udfff", "😀" * 50, "\u202e\u202d", "é" * 3, "\ufeff", "𝕏" * 10,
            "<b>x</b>", "&amp;", "' OR 1=1 --", "\\u0000", "null", "NaN", "1e309", "-0", "٣", "\r\n"]
ODD_NUMBERS: list[Any] = [0, -1, 2**63, -(2**63) - 1, 10**30, 1.5, float("1e308"), "17", "1380", " 42 ", "0x10",
                          "1e3", True, False, None, [], {}]


@dataclass
class Http:
    kind: str  # what it exercises, for the figures
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    raw: bytes | None = None  # sent as is on a socket (truncated, slow, lying lengths)
    slow: bool = False  # the body is sent a byte at a time with pauses
    telegram: bool = False  # to the Telegram webhook path


@dataclass
class Press:
    kind: str
    user: int
    data: str | bytes


@dataclass
class Text:
    kind: str
    user: int
    text: str


def _odd(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randrange(10)
    if pick == 0 and depth < 40:
        return [_odd(rng, depth + 1)]  # deep
    if pick == 1 and depth < 40:
        return {rng.choice(ODD_TEXT): _odd(rng, depth + 1)}
    if pick == 2:
        return "x" * rng.choice([1, 255, 4096, 70_000])  # huge
    if pick in (3, 4):
        return rng.choice(ODD_NUMBERS)
    if pick == 5:
        return rng.choice(ODD_TEXT) * rng.randrange(1, 4)
    return rng.choice([None, "", 0, "resolved", "completed", {"code": "completed"}, [1, 2], {"id": None}])


def _dumps(value: Any, rng: random.Random) -> bytes:
    """JSON, sometimes with raw non-ASCII (lone surrogates then become bytes that are not UTF-8)."""
    return json.dumps(value, ensure_ascii=rng.random() < 0.5, allow_nan=True).encode("utf-8", "surrogatepass")


def _mutate(doc: Any, rng: random.Random) -> Any:
    """One field of a JSON document replaced by something odd, or removed, or its type changed."""
    if isinstance(doc, dict) and doc:
        key = rng.choice(list(doc))
        what = rng.randrange(4)
        out = dict(doc)
        if what == 0:
            out.pop(key)
        elif what == 1 or not isinstance(doc[key], dict | list):
            out[key] = _odd(rng)
        else:
            out[key] = _mutate(doc[key], rng)
        return out
    if isinstance(doc, list) and doc:
        out = list(doc)
        i = rng.randrange(len(doc))
        out[i] = _mutate(doc[i], rng) if rng.random() < 0.5 else _odd(rng)
        return out
    return _odd(rng)


def _sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_request(rng: random.Random, path: str, secret: str, max_bytes: int) -> Http:
    dialect = rng.choice(["seed", "okdesk"])
    issue = rng.choice([rng.randrange(1, 10**6), rng.randrange(1, 50)])
    base = build_webhook(dialect, issue, rng.choice(["resolved", "completed", "opened", "closed", "x"]), "opened",
                         # Contact 95 is the sandbox's linked client: its requests reach one chat,
                         # which Telegram paces at one message a second; most go to nobody's.
                         rng.choices([95, 96, None], [2, 49, 49])[0], 147, title=rng.choice(ODD_TEXT))
    kind = rng.choices(["genuine", "mutated", "raw-bytes", "json-other", "oversized", "numbers-as-strings"],
                       [10, 50, 10, 10, 5, 15])[0]
    if kind == "genuine":
        body = _dumps(base, rng)
    elif kind == "mutated":
        doc = base
        for _ in range(rng.randrange(1, 4)):
            doc = _mutate(doc, rng)
        body = _dumps(doc, rng)
    elif kind == "raw-bytes":
        body = rng.randbytes(rng.randrange(0, 400))
    elif kind == "json-other":
        body = _dumps(_odd(rng), rng)
    elif kind == "oversized":
        body = b'{"issue": {"id": 1, "title": "' + b"x" * (max_bytes + rng.randrange(1, 5000)) + b'"}}'
    else:
        body = _dumps(base, rng).replace(b'"id": ', b'"id": "').replace(b', "', b'", "', 1)
    headers = {"Content-Type": rng.choice(["application/json", "text/plain", "application/json; charset=cp1251",
                                           "multipart/form-data", "\u00ff"])}
    auth = rng.choices(["signature", "token", "header-token", "bad-signature", "none", "url-variant"],
                       [40, 15, 10, 15, 10, 10])[0]
    query = ""
    if auth == "signature":
        headers["X-Okdesk-Signature"] = _sign(secret, body)
    elif auth == "token":
        query = "?token=" + secret
    elif auth == "header-token":
        headers["X-Webhook-Token"] = secret
    elif auth == "bad-signature":
        headers["X-Okdesk-Signature"] = rng.choice([_sign(secret, body)[:-1] + "0", "", "sha256=" + _sign(secret, body),
                                                    _sign("wrong", body), "ä" * 64])
    elif auth == "url-variant":
        query = rng.choice(["?token=" + secret.upper(), "?token=" + secret + "x", "?token=", "?token=%00",
                            "?token=" + secret + "&token=wrong", "?TOKEN=" + secret])
    method = rng.choices(["POST", "GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"], [80, 5, 5, 3, 3, 2, 2])[0]
    request = Http(f"okdesk/{kind}/{auth}", method, path + query, headers, body)
    shape = rng.random()
    if shape < 0.002:  # each holds a connection for 20 s
        request.slow, request.kind = True, f"okdesk/slow/{auth}"
    elif shape < 0.04:
        request.raw, request.kind = _raw(method, path + query, headers, body, rng), f"okdesk/raw-http/{auth}"
    return request


def _raw(method: str, target: str, headers: dict[str, str], body: bytes, rng: random.Random) -> bytes:
    """An HTTP request that lies: a truncated body, a length that is too big or not a number,
    chunks that end early, or no Host."""
    lie = rng.randrange(4)
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"] + [f"{k}: {v}" for k, v in headers.items()
                                                                 if all(ord(c) < 128 for c in v)]
    if lie == 0:
        lines.append(f"Content-Length: {len(body) + 100}")
        payload = body[: len(body) // 2]
    elif lie == 1:
        lines.append("Content-Length: banana")
        payload = body
    elif lie == 2:
        lines.append("Transfer-Encoding: chunked")
        payload = f"{len(body) + 10:x}\r\n".encode() + body
    else:
        lines.append(f"Content-Length: {len(body)}")
        lines.append(f"Content-Length: {len(body) + 1}")
        payload = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


UPDATE_SHAPES = ["text", "command", "callback", "edited", "channel_post", "group", "supergroup", "sticker", "photo",
                 "contact", "long-text", "mutated", "not-an-update"]


def telegram_update(rng: random.Random, update_id: int, users: list[int], request_ids: list[str]) -> tuple[str, dict]:
    """A Telegram update of some shape (as the Bot API would send one, or not quite)."""
    user = rng.choice(users)
    sender = {"id": user, "is_bot": False, "first_name": rng.choice(ODD_TEXT) or "U", "language_code": rng.choice(["ru", "en", "xx", None])}
    chat = {"id": user, "type": "private", "first_name": "U"}
    shape = rng.choice(UPDATE_SHAPES)
    message: dict[str, Any] = {"message_id": rng.randrange(1, 10**6), "date": 1_764_000_000, "chat": chat, "from": sender}
    update: dict[str, Any] = {"update_id": update_id}
    if shape == "text":
        message["text"] = rng.choice(ODD_TEXT) or "hi"
    elif shape == "command":
        message["text"] = rng.choice(["/start", "/new", "/stop", "/help", "/start@okrate_bot"]) + rng.choice(
            ["", " ", " " + "x" * 64, " \u0000", " 95", " ../../etc", " " + "a" * 300, " токен"])
    elif shape == "long-text":
        message["text"] = rng.choice(["я", "x", "😀"]) * 4096
    elif shape == "callback":
        update["callback_query"] = {"id": str(rng.randrange(10**18)), "from": sender, "chat_instance": "1",
                                    "data": forged_callback(rng, request_ids),
                                    "message": message if rng.random() < 0.8 else None}
        return shape, update
    elif shape == "edited":
        message["text"] = "edited"
        update["edited_message"] = message
        return shape, update
    elif shape == "channel_post":
        message["chat"] = {"id": -100_000_000_000 - user, "type": "channel", "title": "c"}
        message.pop("from")
        message["text"] = "/new"
        update["channel_post"] = message
        return shape, update
    elif shape in ("group", "supergroup"):
        message["chat"] = {"id": -user, "type": shape, "title": "g"}
        message["text"] = rng.choice(["/start", "/new", "description of a problem"])
    elif shape == "sticker":
        message["sticker"] = {"file_id": "f", "file_unique_id": "u", "type": "regular", "width": 1, "height": 1,
                              "is_animated": False, "is_video": False}
    elif shape == "photo":
        message["photo"] = [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]
        message["caption"] = rng.choice(ODD_TEXT)
    elif shape == "contact":
        message["contact"] = {"phone_number": rng.choice(["+79161112233", "79160000000", "", "x" * 100]),
                              "first_name": "A", "user_id": rng.choice([user, user + 1, None])}
    elif shape == "mutated":
        update["message"] = _mutate({**message, "text": "hi"}, rng)
        return shape, update
    else:
        return shape, _odd(rng) if rng.random() < 0.5 else {"update_id": _odd(rng)}
    update["message"] = message
    return shape, update


def forged_callback(rng: random.Random, request_ids: list[str]) -> str:
    """Callback data a client could forge: other users' request ids, other issues, overlong, wrong
    prefixes, not UTF-8 (as sent, after decoding with replacement)."""
    request = rng.choice(request_ids) if request_ids else "1380.0.1"
    return rng.choice([
        f"r:{request}:{rng.randrange(-1, 8)}", f"r:{request}:5", f"r:9{request}:5", f"rs:{request}:0",
        f"why:{request}:{rng.randrange(9)}", "r:" + "9" * 60, "x" * 64, "", "c:new", "c:" + "x" * 60,
        "r:1380.0.1:5\u0000", "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
        bytes(rng.randbytes(20)).decode("latin-1"), "r:-1.-1.-1:5", "r:1380:5", f"r:{request}",
    ])[:64]
