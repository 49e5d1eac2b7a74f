"""Telegram's HTML parse mode, checked the way the Bot API checks it.

Mirrors TDLib's parser: only Telegram's tags are accepted, ``<`` must be escaped, tags must
nest and close, and only ``&lt; &gt; &amp; &quot;`` and numeric entities are decoded (any other
``&`` stays literal text, as Telegram keeps it). Errors carry TDLib's wording and UTF-8 byte
offsets; entity offsets are in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TAGS = {
    "a": "text_link",
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9.\-]*")


class HtmlParseError(ValueError):
    """The text is not valid Telegram HTML; ``str(e)`` is Telegram's reason."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset into the output where the tag's content starts


def _decode_entity(text: str, i: int) -> tuple[str, int] | None:
    m = _ENTITY.match(text, i)
    if m is None:
        return None
    dec, hexa, name = m.groups()
    if name is not None:
        char = _NAMED.get(name)
        return None if char is None else (char, m.end())
    code = int(dec) if dec is not None else int(hexa, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), m.end()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.out: list[str] = []
        self.out_len = 0  # UTF-16 length of self.out
        self.open: list[_Open] = []
        self.entities: list[dict[str, object]] = []

    def byte_offset(self, pos: int) -> int:
        return len(self.text[:pos].encode("utf-8"))

    def emit(self, chunk: str) -> None:
        self.out.append(chunk)
        self.out_len += utf16_len(chunk)

    def at_end(self) -> bool:
        return self.i >= len(self.text)

    def char(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def run(self) -> tuple[str, list[dict[str, object]]]:
        text = self.text
        while self.i < len(text):
            c = text[self.i]
            if c == "&":
                decoded = _decode_entity(text, self.i)
                if decoded is None:
                    self.emit("&")
                    self.i += 1
                else:
                    self.emit(decoded[0])
                    self.i = decoded[1]
            elif c == "<":
                if self.i + 1 < len(text) and text[self.i + 1] == "/":
                    self.end_tag()
                else:
                    self.start_tag()
            else:
                j = self.i
                while j < len(text) and text[j] not in "&<":
                    j += 1
                self.emit(text[self.i : j])
                self.i = j
        if self.open:
            raise HtmlParseError(
                f'Can\'t find end tag corresponding to start tag "{self.open[-1].tag}"'
            )
        self.entities.sort(key=lambda e: (e["offset"], -int(e["length"])))  # type: ignore[call-overload]
        return "".join(self.out), self.entities

    def skip_spaces(self) -> None:
        while not self.at_end() and self.char().isspace():
            self.i += 1

    def start_tag(self) -> None:
        begin = self.i
        self.i += 1
        while not self.at_end() and not self.char().isspace() and self.char() != ">":
            self.i += 1
        if self.at_end():
            raise HtmlParseError(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
        tag = self.text[begin + 1 : self.i].lower()
        if tag not in _TAGS:
            raise HtmlParseError(
                f'Unsupported start tag "{tag}" at byte offset {self.byte_offset(begin)}'
            )
        argument = ""
        while self.char() != ">":
            self.skip_spaces()
            if self.at_end():
                raise HtmlParseError(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
            if self.char() == ">":
                break
            name_begin = self.i
            while not self.at_end() and not self.char().isspace() and self.char() not in "=>":
                self.i += 1
            name = self.text[name_begin : self.i].lower()
            if not name:
                raise HtmlParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset '
                    f"{self.byte_offset(begin)}"
                )
            self.skip_spaces()
            if self.char() != "=":
                if tag == "blockquote" and name == "expandable":
                    argument = "expandable"
                    continue
                raise HtmlParseError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {self.byte_offset(begin)}'
                )
            self.i += 1
            self.skip_spaces()
            if self.at_end():
                raise HtmlParseError(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
            value = self.attribute_value()
            if self.at_end():
                raise HtmlParseError(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
            argument = self.argument_for(tag, name, value, argument)
        self.i += 1  # the '>'
        if tag == "span" and argument != "spoiler":
            raise HtmlParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte_offset(begin)}'
            )
        self.open.append(_Open(tag, argument, self.out_len))

    def attribute_value(self) -> str:
        quote = self.char()
        if quote not in "'\"":
            m = _TOKEN_CHARS.match(self.text, self.i)
            assert m is not None
            self.i = m.end()
            if not self.at_end() and not self.char().isspace() and self.char() != ">":
                raise HtmlParseError(
                    f"Unexpected end of name token at byte offset {self.byte_offset(self.i)}"
                )
            return m.group().lower()
        self.i += 1
        value: list[str] = []
        while not self.at_end() and self.char() != quote:
            if self.char() == "&" and (decoded := _decode_entity(self.text, self.i)):
                value.append(decoded[0])
                self.i = decoded[1]
            else:
                value.append(self.char())
                self.i += 1
        if not self.at_end():
            self.i += 1
        return "".join(value)

    @staticmethod
    def argument_for(tag: str, name: str, value: str, current: str) -> str:
        if tag == "a" and name == "href":
            return value
        if tag == "code" and name == "class" and value.startswith("language-"):
            return value[len("language-") :]
        if tag == "span" and name == "class" and value.startswith("tg-"):
            return value[len("tg-") :]
        if tag == "tg-emoji" and name == "emoji-id":
            return value
        return current

    def end_tag(self) -> None:
        begin = self.i
        if not self.open:
            raise HtmlParseError(f"Unexpected end tag at byte offset {self.byte_offset(begin)}")
        self.i += 2
        while not self.at_end() and not self.char().isspace() and self.char() != ">":
            self.i += 1
        name = self.text[begin + 2 : self.i].lower()
        self.skip_spaces()
        if self.char() != ">":
            raise HtmlParseError(f"Unclosed end tag at byte offset {self.byte_offset(begin)}")
        self.i += 1
        top = self.open[-1]
        if name and name != top.tag:
            raise HtmlParseError(
                f"Unmatched end tag at byte offset {self.byte_offset(begin)}, "
                f'expected "</{top.tag}>", found "</{name}>"'
            )
        self.open.pop()
        self.close_entity(top)

    def close_entity(self, tag: _Open) -> None:
        length = self.out_len - tag.offset
        if length <= 0:
            return
        kind = _TAGS[tag.tag]
        entity: dict[str, object] = {"type": kind, "offset": tag.offset, "length": length}
        if kind == "text_link":
            if not tag.argument:
                return
            entity["url"] = tag.argument
        elif kind == "custom_emoji":
            entity["custom_emoji_id"] = tag.argument
        elif kind == "blockquote" and tag.argument == "expandable":
            entity["type"] = "expandable_blockquote"
        elif kind == "code" and tag.argument:
            entity["language"] = tag.argument  # kept only if a <pre> wraps it exactly
        elif kind == "pre":
            inner = next(
                (
                    e
                    for e in self.entities
                    if e["type"] == "code" and e["offset"] == tag.offset and e["length"] == length
                ),
                None,
            )
            if inner is not None:
                self.entities.remove(inner)
                if "language" in inner:
                    entity["language"] = inner["language"]
        self.entities.append(entity)


def parse_html(text: str) -> tuple[str, list[dict[str, object]]]:
    """Plain text and Bot API ``MessageEntity`` dicts for ``text`` in HTML parse mode."""
    plain, entities = _Parser(text).run()
    for e in entities:
        if e["type"] == "code":
            e.pop("language", None)
    return plain, entities
