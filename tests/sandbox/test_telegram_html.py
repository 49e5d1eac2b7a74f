"""Telegram's HTML parse mode: what it accepts, what it refuses, and with which words."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.telegram_html import HtmlParseError, parse_html


def test_supported_tags_become_entities_with_utf16_offsets() -> None:
    text, entities = parse_html('😀 <b>Жирный</b> <a href="https://x.test/?a=1&amp;b=2">link</a>')
    assert text == "😀 Жирный link"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 6},
        {"type": "text_link", "offset": 10, "length": 4, "url": "https://x.test/?a=1&b=2"},
    ]


def test_pre_with_language_and_spoiler_span() -> None:
    text, entities = parse_html(
        '<pre><code class="language-python">x = 1</code></pre><span class="tg-spoiler">s</span>'
    )
    assert text == "x = 1s"
    assert {"type": "pre", "offset": 0, "length": 5, "language": "python"} in entities
    assert {"type": "spoiler", "offset": 5, "length": 1} in entities


def test_only_four_named_entities_are_decoded_and_a_stray_ampersand_stays() -> None:
    assert parse_html("&lt;&gt;&amp;&quot;&#65;&#x42; Tom & Jerry &nbsp;")[0] == (
        '<>&"AB Tom & Jerry &nbsp;'
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("rating < 5", 'Unsupported start tag "" at byte offset 7'),
        ("line<br>break", 'Unsupported start tag "br" at byte offset 4'),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("Заявка <", "Unclosed start tag at byte offset 13"),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
def test_invalid_html_is_refused_with_telegrams_reason(text: str, reason: str) -> None:
    with pytest.raises(HtmlParseError) as err:
        parse_html(text)
    assert str(err.value) == reason


@given(st.text())
def test_any_text_escaped_with_html_escape_parses_back_to_itself(raw: str) -> None:
    assert parse_html(html.escape(raw))[0] == raw
