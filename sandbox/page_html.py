"""What the sandbox page shows of the bot's messages and of Okdesk comments, escaped: a bot message
is rebuilt from its plain text and entities (only Telegram's formatting becomes tags, links only
with safe schemes), an Okdesk comment keeps only a few harmless tags."""

from __future__ import annotations

import html
import itertools
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

SAFE_SCHEMES = ("http", "https", "tg", "mailto")


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
