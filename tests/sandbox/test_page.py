"""The sandbox page: its JSON API, the admin token, its escaping, and the page in Chromium."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from aiohttp import web

from sandbox.clock import FakeClock
from sandbox.okdesk_state import OkdeskState
from sandbox.page import SESSION_COOKIE, create_page_app
from sandbox.page_html import render_entities, sanitize_comment
from sandbox.runner import run_app
from sandbox.service import DEMO_USER_ID, seed
from sandbox.telegram_api import RunningTelegram, running_telegram
from sandbox.telegram_state import TelegramLimits, TelegramState
from tests.browser import find_chromium, launch
from tests.sandbox.conftest import make_bot

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TOKEN = "s3cret-admin-token"
STARS = {
    5: "⭐⭐⭐⭐⭐ Отлично (5)",
    4: "⭐⭐⭐⭐ Хорошо (4)",
    3: "⭐⭐⭐ Нормально (3)",
    2: "⭐⭐ Плохо (2)",
    1: "⭐ Ужасно (1)",
}
LABELS = {5: "Отлично", 4: "Хорошо", 3: "Нормально", 2: "Плохо", 1: "Ужасно"}
CHAT_OF_CONTACT = {95: DEMO_USER_ID}


@contextlib.asynccontextmanager
async def receiver(
    handle: Callable[[dict[str, Any]], Awaitable[None]] | None = None, status: int = 200
) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in for okrate's ingest: records the webhooks it gets, answers ``status``."""
    received: list[dict[str, Any]] = []

    async def webhook(request: web.Request) -> web.Response:
        payload = await request.json()
        received.append(payload)
        if handle is not None:
            await handle(payload)
        return web.json_response({"accepted": True}, status=status)

    app = web.Application()
    app.router.add_post("/okdesk-webhook", webhook)
    async with run_app(app) as base:
        yield f"{base}/okdesk-webhook", received


@contextlib.asynccontextmanager
async def page_for(
    tg: TelegramState, ok: OkdeskState, webhook_url: str = "http://127.0.0.1:9/x", **kw: Any
) -> AsyncIterator[str]:
    async with run_app(create_page_app(tg, ok, webhook_url, **kw)) as base:
        yield base


@pytest.fixture
def seeded(tg_state: TelegramState, ok_state: OkdeskState) -> tuple[TelegramState, OkdeskState]:
    seed(ok_state, tg_state)
    return tg_state, ok_state


# -- rendering ---------------------------------------------------------------------------------


def test_messages_render_only_telegrams_formatting_and_escape_the_rest() -> None:
    text = "Заявка №1380: Принтер <HP> & <script>alert(1)</script>\nлинк"
    entities = [
        {"type": "bold", "offset": 0, "length": 12},
        {"type": "text_link", "offset": 55, "length": 4, "url": "http://x/okdesk/issues/1380"},
    ]
    out = render_entities(text, entities)
    assert out.startswith("<b>Заявка №1380</b>: Принтер &lt;HP&gt; &amp; &lt;script&gt;")
    assert '<a href="http://x/okdesk/issues/1380" target="_blank"' in out and "<script" not in out
    bad = render_entities(
        "click", [{"type": "text_link", "offset": 0, "length": 5, "url": "javascript:alert(1)"}]
    )
    assert "<a" not in bad and "tg-bad-link" in bad
    # offsets are UTF-16: 👍 takes two units
    assert (
        render_entities("👍 ok", [{"type": "italic", "offset": 3, "length": 2}]) == "👍 <i>ok</i>"
    )
    # nested and overlapping entities stay well-formed
    nested = render_entities(
        "abcdef",
        [{"type": "bold", "offset": 0, "length": 6}, {"type": "italic", "offset": 2, "length": 2}],
    )
    assert nested == "<b>ab<i>cd</i>ef</b>"
    crossed = render_entities(
        "abcdef",
        [{"type": "bold", "offset": 0, "length": 4}, {"type": "italic", "offset": 2, "length": 4}],
    )
    assert crossed == "<b>ab<i>cd</i></b><i>ef</i>"
    assert render_entities("<>&", []) == "&lt;&gt;&amp;"


def test_okdesk_comments_keep_a_few_harmless_tags() -> None:
    out = sanitize_comment(
        "⭐⭐⭐⭐ Оценка: <b>4 — Хорошо</b><br>Оценил <small>okrate:1</small>"
        '<script>alert(1)</script><img src=x onerror="alert(2)">'
        '<a href="javascript:alert(3)" onclick="x()">a</a><a href="https://ok.ru/">b</a><i>open'
    )
    assert "<b>4 — Хорошо</b><br>Оценил <small>okrate:1</small>" in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert '&lt;img src=x onerror="alert(2)"&gt;' in out
    assert "<a>a</a>" in out and "onclick" not in out
    assert '<a href="https://ok.ru/" target="_blank" rel="noopener noreferrer">b</a>' in out
    assert out.endswith("<i>open</i>")


# -- the JSON API ------------------------------------------------------------------------------


async def test_the_state_shows_the_seeded_chat_and_issues(
    seeded: tuple[TelegramState, OkdeskState], http: aiohttp.ClientSession
) -> None:
    tg, ok = seeded
    async with page_for(tg, ok, "http://ingest/okdesk-webhook") as base:
        for path in ("/", "/okdesk", "/okdesk/issues/1380"):
            async with http.get(base + path) as resp:
                assert resp.status == 200 and "/static/app.js" in await resp.text()
                assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
        for asset in ("app.js", "style.css"):
            async with http.get(f"{base}/static/{asset}") as resp:
                assert resp.status == 200
        async with http.get(f"{base}/api/state") as resp:
            state = await resp.json()
            etag = resp.headers["ETag"]
        async with http.get(f"{base}/api/state", headers={"If-None-Match": etag}) as resp:
            assert resp.status == 304
    chats = {c["id"]: c for c in state["telegram"]["chats"]}
    assert chats[DEMO_USER_ID]["title"] == "Иван Петров" and chats[DEMO_USER_ID]["can_act"]
    assert chats[DEMO_USER_ID]["messages"] == []
    issues = {i["id"]: i for i in state["okdesk"]["issues"]}
    assert set(issues) == {1380, 1381, 1382}
    printer = issues[1380]
    assert printer["title"] == "Принтер <HP> не печатает & мигает"
    assert printer["status"] == {"code": "opened", "name": "Открыта"}
    assert (
        printer["contact"]["name"] == "Петров Иван"
        and printer["company"]["name"] == "ООО «Ромашка»"
    )
    assert printer["assignee"]["name"] == "Смирнов Алексей" and printer["rate"] is None
    assert {"code": "completed", "name": "Решена"} in state["okdesk"]["statuses"]
    assert state["webhook_url"] == "http://ingest/okdesk-webhook" and not state["protected"]


async def test_acting_as_the_user_makes_telegrams_updates(
    seeded: tuple[TelegramState, OkdeskState], bot: Bot, http: aiohttp.ClientSession
) -> None:
    tg, ok = seeded
    clock = tg.clock
    assert isinstance(clock, FakeClock)
    async with page_for(tg, ok) as base:
        api = f"{base}/api/telegram"
        async with http.post(f"{api}/chats/{DEMO_USER_ID}/send", json={"text": "/start"}) as resp:
            sent = await resp.json()
        assert sent["update"]["message"]["entities"][0]["type"] == "bot_command"

        keyboard = ReplyKeyboardMarkup(
            keyboard=[[KeyboardButton(text="Поделиться номером", request_contact=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
        await bot.send_message(
            DEMO_USER_ID, "Поделитесь <b>номером</b>", reply_markup=keyboard, parse_mode="HTML"
        )
        async with http.get(f"{api}/chats/{DEMO_USER_ID}") as resp:
            chat = await resp.json()
        assert chat["reply_keyboard"] == [[{"text": "Поделиться номером", "request_contact": True}]]
        assert chat["messages"][-1]["html"] == "Поделитесь <b>номером</b>"
        async with http.post(f"{api}/chats/{DEMO_USER_ID}/share-contact", json={}) as resp:
            shared = await resp.json()
        assert shared["update"]["message"]["contact"] == {
            "phone_number": "79161234567",
            "first_name": "Иван",
            "user_id": DEMO_USER_ID,
            "last_name": "Петров",
        }
        assert shared["chat"]["reply_keyboard"] == []  # one-time keyboard gone

        clock.advance(2)
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text=STARS[s], callback_data=f"rate:1380:{s}")]
                for s in (5, 4)
            ]
        )
        rating = await bot.send_message(
            DEMO_USER_ID,
            "📝 <b>Заявка №1380</b>: Принтер &lt;HP&gt;",
            reply_markup=markup,
            parse_mode="HTML",
        )
        async with http.post(
            f"{api}/chats/{DEMO_USER_ID}/press",
            json={"message_id": rating.message_id, "data": "rate:1380:4"},
        ) as resp:
            pressed = await resp.json()
        query = pressed["update"]["callback_query"]
        assert query["data"] == "rate:1380:4"
        shown = pressed["chat"]["messages"][-1]
        assert shown["html"] == "📝 <b>Заявка №1380</b>: Принтер &lt;HP&gt;"
        assert [b["pending"] for row in shown["buttons"] for b in row] == [False, True]
        async with http.post(
            f"{api}/chats/{DEMO_USER_ID}/press",
            json={"message_id": rating.message_id, "data": "nope"},
        ) as resp:
            assert resp.status == 409 and "no such button" in (await resp.json())["error"]

        await bot.answer_callback_query(query["id"], text="Принято")
        await bot.edit_message_text(
            "Ваша оценка: ⭐⭐⭐⭐", chat_id=DEMO_USER_ID, message_id=rating.message_id
        )
        async with http.get(f"{api}/chats/{DEMO_USER_ID}") as resp:
            chat = await resp.json()
        last = chat["messages"][-1]
        assert last["edited"] and last["buttons"] == [] and last["text"] == "Ваша оценка: ⭐⭐⭐⭐"
        assert chat["callback_answers"][0]["text"] == "Принято"
        assert [m["sender"] for m in chat["messages"]] == ["user", "bot", "user", "bot"]

        async with http.post(
            f"{api}/users", json={"id": 2002, "first_name": "Мария", "last_name": "Сидорова"}
        ) as resp:
            assert (await resp.json())["title"] == "Мария Сидорова"
        async with http.post(f"{api}/users", json={"id": 2002, "first_name": "X"}) as resp:
            assert resp.status == 409
        async with http.post(f"{api}/users", json={"id": -5, "first_name": "X"}) as resp:
            assert resp.status == 400
        async with http.post(f"{api}/chats/2002/share-contact", json={}) as resp:
            assert resp.status == 409  # the bot shows no contact button there
        async with http.post(f"{api}/chats/777/send", json={"text": "hi"}) as resp:
            assert resp.status == 404
        async with http.post(f"{api}/chats/2002/send", data="text=hi") as resp:
            assert resp.status == 415
    assert [u["message"].get("text") for u in tg.updates.pending if "message" in u][:1] == [
        "/start"
    ]


async def test_changing_a_status_posts_the_webhook_and_shows_its_answer(
    seeded: tuple[TelegramState, OkdeskState], http: aiohttp.ClientSession
) -> None:
    tg, ok = seeded
    async with receiver(status=202) as (url, received), page_for(tg, ok, url) as base:
        ok.add_webhook_target(url)
        api = f"{base}/api/okdesk/issues"
        async with http.post(
            f"{api}/1380/status", json={"status": "completed", "comment": "Заменили картридж"}
        ) as resp:
            answer = await resp.json()
        assert answer["issue"]["status"]["code"] == "completed"
        assert [(d["status"], d["event_type"], d["issue_id"]) for d in answer["deliveries"]] == [
            (202, "new_ticket_status", "1380")
        ]
        assert received[0]["event"]["new_status"]["code"] == "completed"
        ok.add_comment(1380, "Оценка: <b>4</b><script>x</script>", author_id=1, public=False)
        await ok.drain()
        async with http.get(f"{api}/1380") as resp:
            issue = await resp.json()
        assert [c["html"] for c in issue["comments"]] == [
            "Заменили картридж",
            "Оценка: <b>4</b>&lt;script&gt;x&lt;/script&gt;",
        ]
        assert [c["public"] for c in issue["comments"]] == [True, False]
        assert [w["event_type"] for w in issue["webhooks"]] == ["new_ticket_status", "new_comment"]
        async with http.post(f"{api}/1380/status", json={"status": "nonsense"}) as resp:
            assert resp.status == 400
        async with http.post(f"{api}/9999/status", json={"status": "closed"}) as resp:
            assert resp.status == 404
        async with http.get(f"{base}/api/okdesk/webhooks") as resp:
            assert [d["status"] for d in (await resp.json())["deliveries"]] == [202, 202]


async def test_the_admin_token_guards_every_page_and_endpoint(
    seeded: tuple[TelegramState, OkdeskState],
) -> None:
    tg, ok = seeded
    async with page_for(tg, ok, admin_token=TOKEN) as base:
        async with aiohttp.ClientSession() as anon:
            for path in ("/api/state", "/api/telegram/chats", "/api/okdesk/issues/1380"):
                async with anon.get(base + path) as resp:
                    assert resp.status == 401 and "admin token" in (await resp.json())["error"]
            async with anon.post(
                f"{base}/api/okdesk/issues/1380/status", json={"status": "completed"}
            ) as resp:
                assert resp.status == 401
            assert ok.issues[1380].status == "opened"
            for path in ("/", "/okdesk/issues/1380"):
                async with anon.get(base + path) as resp:
                    page = await resp.text()
                    assert resp.status == 401 and 'action="/login"' in page and "Петров" not in page
            bearer = {"Authorization": f"Bearer {TOKEN}"}
            async with anon.get(f"{base}/api/state", headers=bearer) as resp:
                assert resp.status == 200 and (await resp.json())["protected"]
            wrong = {"Authorization": "Bearer nope"}
            async with anon.get(f"{base}/api/state", headers=wrong) as resp:
                assert resp.status == 401

        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            async with browser.post(f"{base}/login", data={"token": "nope", "next": "/"}) as resp:
                assert resp.status == 401 and "Wrong token" in await resp.text()
            assert len(jar) == 0
            async with browser.post(
                f"{base}/login", allow_redirects=False, data={"token": TOKEN, "next": "/okdesk"}
            ) as resp:
                assert resp.status == 303 and resp.headers["Location"] == "/okdesk"
                cookie = resp.cookies[SESSION_COOKIE]
                assert cookie["httponly"] and cookie["samesite"] == "Strict"
                assert TOKEN not in cookie.value
            async with browser.get(f"{base}/okdesk") as resp:
                assert resp.status == 200 and "/static/app.js" in await resp.text()
            async with browser.get(f"{base}/api/state") as resp:
                assert resp.status == 200
            async with browser.post(
                f"{base}/login",
                allow_redirects=False,
                data={"token": TOKEN, "next": "//evil.example"},
            ) as resp:
                assert resp.headers["Location"] == "/"
            async with browser.post(f"{base}/logout", allow_redirects=False) as resp:
                assert resp.status == 303
            async with browser.get(f"{base}/api/state") as resp:
                assert resp.status == 401


# -- the page in Chromium ----------------------------------------------------------------------


class FakeOkrate:
    """Just enough of okrate's services for the page to show a whole loop: on a resolved issue
    it sends the rating request; on a press it answers, edits the message and comments on the
    issue; on /start it asks for the phone number with a reply keyboard."""

    def __init__(self, bot: Bot, okdesk: OkdeskState, portal: str) -> None:
        self.bot, self.okdesk, self.portal = bot, okdesk, portal
        self.tasks: set[asyncio.Task[Any]] = set()

    async def on_webhook(self, payload: dict[str, Any]) -> None:
        event = payload["event"]
        if event["event_type"] != "new_ticket_status" or event["new_status"]["code"] != "completed":
            return
        issue = payload["issue"]
        chat_id = CHAT_OF_CONTACT[int(issue["client"]["contact"]["id"])]
        task = asyncio.get_running_loop().create_task(self.ask(chat_id, issue))
        self.tasks.add(task)  # the ingest answers at once; the request goes out after

    async def ask(self, chat_id: int, issue: dict[str, Any]) -> None:
        from html import escape

        text = (
            f"📝 <b>Заявка №{issue['id']}</b>: {escape(issue['title'], quote=False)}\n"
            f"Статус: {issue['status']['name']}\n"
            f'<a href="{self.portal}/issues/{issue["id"]}">Открыть заявку на портале</a>\n\n'
            "Пожалуйста, оцените, как мы решили вашу заявку:"
        )
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text=STARS[s], callback_data=f"rate:{issue['id']}:{s}")]
                for s in (5, 4, 3, 2, 1)
            ]
        )
        await self.bot.send_message(chat_id, text, parse_mode="HTML", reply_markup=markup)

    async def poll(self) -> None:
        offset = 0
        while True:
            for update in await self.bot.get_updates(offset=offset, timeout=1):
                offset = update.update_id + 1
                if (query := update.callback_query) is not None and query.data:
                    await self.on_press(query.id, query.from_user.id, query.message, query.data)
                elif update.message and update.message.text == "/start":
                    keyboard = ReplyKeyboardMarkup(
                        keyboard=[
                            [KeyboardButton(text="Поделиться номером", request_contact=True)]
                        ],
                        resize_keyboard=True,
                        one_time_keyboard=True,
                    )
                    await self.bot.send_message(
                        update.message.chat.id,
                        "Здравствуйте! Поделитесь номером телефона.",
                        reply_markup=keyboard,
                    )
                elif update.message and update.message.contact:
                    await self.bot.send_message(update.message.chat.id, "Спасибо, номер получен.")

    async def on_press(self, query_id: str, user_id: int, message: Any, data: str) -> None:
        _, issue_id, score = data.split(":")
        s = int(score)
        await self.bot.answer_callback_query(query_id, text="Принято")
        await self.bot.edit_message_text(
            f"Ваша оценка: {STARS[s]}", chat_id=message.chat.id, message_id=message.message_id
        )
        self.okdesk.add_comment(
            int(issue_id),
            f"{'⭐' * s} Оценка клиента: <b>{s} — {LABELS[s]}</b><br>"
            f"Оценил(а) пользователь Telegram {user_id}.<br><small>okrate:req-1</small>",
            author_id=1,
            public=False,
        )
        self.okdesk.rate_issue(int(issue_id), "good" if s >= 4 else "normal" if s == 3 else "bad")


def chromium_or_skip() -> str:
    path = find_chromium()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


async def test_in_chromium_resolve_an_issue_press_4_stars_see_the_comment() -> None:
    executable = chromium_or_skip()
    tg = TelegramState(limits=TelegramLimits(enabled=False), webhook_retry_delay=0.05)
    ok = OkdeskState()
    seed(ok, tg)
    async with contextlib.AsyncExitStack() as stack:
        running: RunningTelegram = await stack.enter_async_context(running_telegram(tg))
        bot = make_bot(running)
        stack.push_async_callback(bot.session.close)
        page_app = create_page_app(tg, ok, "pending")
        base = await stack.enter_async_context(run_app(page_app))
        okrate = FakeOkrate(bot, ok, f"{base}/okdesk")
        url, _ = await stack.enter_async_context(receiver(okrate.on_webhook))
        ok.add_webhook_target(url)
        poller = asyncio.get_running_loop().create_task(okrate.poll())
        stack.push_async_callback(ok.drain)
        stack.callback(poller.cancel)
        browser = await stack.enter_async_context(launch(executable))
        page = await browser.new_page(1440, 900)

        await page.goto(base + "/")
        await page.click(f'#chat-list [data-chat-id="{DEMO_USER_ID}"]')
        await page.wait_for("document.querySelector('#chat-title').textContent === 'Иван Петров'")

        # the person types /start and shares the phone number through the reply keyboard
        await page.set_value("#composer-text", "/start")
        await page.click("#composer-send")
        await page.click("#reply-keyboard button[data-request-contact]")
        await page.wait_for(
            "[...document.querySelectorAll('.msg-user .contact-card')].length === 1"
        )
        await page.wait_for(
            "document.querySelector('#messages').innerText.includes('номер получен')"
        )

        # resolve issue 1380 on the Okdesk side: the stand-in posts its webhook
        await page.click('#issue-rows [data-issue-id="1380"]')
        await page.wait_for("document.querySelector('#issue-detail').dataset.issueId === '1380'")
        await page.set_value("#status-select", "completed")
        await page.click("#status-apply")
        result = await page.wait_for(
            "(e => e.className.includes('ok') && e.textContent)(document.querySelector('#status-result'))"
        )
        assert "HTTP 200" in result and url in result

        # the rating request appears in the chat, formatted and escaped
        press = '#messages button.ikb-btn[data-callback-data="rate:1380:4"]'
        await page.wait_for(f"!!document.querySelector('{press}')")
        assert await page.evaluate(f"document.querySelector('{press}').textContent") == STARS[4]
        bubble = "document.querySelector('.msg-wrap:last-child .msg .text')"
        assert await page.evaluate(f"{bubble}.querySelector('b').textContent") == "Заявка №1380"
        assert "Принтер <HP> не печатает & мигает" in await page.evaluate(f"{bubble}.textContent")
        assert await page.evaluate(f"{bubble}.querySelector('hp')") is None
        link = await page.evaluate(f"{bubble}.querySelector('a').getAttribute('href')")
        assert link == f"{base}/okdesk/issues/1380"
        assert (
            await page.evaluate("document.querySelectorAll('.msg-wrap:last-child .ikb-btn').length")
            == 5
        )

        await page.screenshot(ARTIFACTS / "sandbox-page-request.png")

        # press 4 stars: the bot answers, edits its message, comments on the issue
        await page.click(press)
        await page.wait_for("document.querySelector('#toast').textContent === 'Принято'")
        await page.wait_for(
            "document.querySelector('.msg-wrap:last-child .text').textContent.startsWith('Ваша оценка')"
            " && !!document.querySelector('.msg-wrap:last-child .edited')"
        )
        comment = await page.wait_for(
            "(c => c && c.innerText)(document.querySelector('#comments .comment.internal'))"
        )
        assert "4 — Хорошо" in comment and "internal" in comment and "поддержки" in comment
        assert (
            await page.evaluate("document.querySelector('#comments .comment-body b').textContent")
            == "4 — Хорошо"
        )
        await page.wait_for(
            "document.querySelector('[data-field=\"okdesk rate\"]').textContent.startsWith('Хорошо')"
        )
        await page.screenshot(ARTIFACTS / "sandbox-page.png")

        # the portal link of the bot's message opens the issue on the Okdesk side
        await page.goto(link)
        await page.wait_for("document.body.dataset.mode === 'okdesk'")
        await page.wait_for("!!document.querySelector('#comments .comment.internal')")
        assert (
            await page.evaluate("getComputedStyle(document.querySelector('#telegram')).display")
            == "none"
        )
        await page.screenshot(ARTIFACTS / "sandbox-okdesk.png")
        assert page.errors == []
    assert ok.comments_of(1380)[-1].content.startswith("⭐⭐⭐⭐ Оценка клиента")
    assert ok.issues[1380].status == "completed" and ok.issues[1380].rate == "good"


async def test_in_chromium_the_login_form_lets_the_admin_in() -> None:
    executable = chromium_or_skip()
    tg, ok = TelegramState(), OkdeskState()
    seed(ok, tg)
    async with page_for(tg, ok, admin_token=TOKEN) as base, launch(executable) as browser:
        page = await browser.new_page(1000, 700)
        await page.goto(f"{base}/okdesk/issues/1381")
        await page.wait_for("!!document.querySelector('form.login')")
        await page.set_value("input[name=token]", TOKEN)
        await page.click("form.login button")
        await page.wait_for(
            "document.querySelector('#issue-title')?.textContent === 'Нет доступа к почте'"
        )
        assert await page.evaluate("document.cookie") == ""  # HttpOnly: not readable by scripts
        assert [e for e in page.errors if "status of 401" not in e] == []  # 401: the login form
