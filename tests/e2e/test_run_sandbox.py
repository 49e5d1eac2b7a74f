"""`okrate run` in sandbox mode, end to end: an issue resolved on the Okdesk side, the client's
press in the chat, the comment and the rate on the issue. Supervision: a killed child comes
back; SIGTERM loses nothing that was accepted; bad configuration is refused by name."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from schemas.codec import decode
from schemas.records import RatingRecorded
from schemas.topics import OKDESK_EVENTS, RATING_RECORDED
from tests.conftest import free_ports
from tests.kafka_helpers import count_messages, read_topic

# (issue, the button pressed, its score, Okdesk's own rate, the press's answer): a high and a low score
RATINGS = [
    (1380, "⭐⭐⭐⭐⭐ Отлично (5)", 5, "good", "Оценка ⭐⭐⭐⭐⭐ (5) учтена. Спасибо!"),
    (1381, "⭐⭐ Плохо (2)", 2, "bad", "Оценка ⭐⭐ (2) учтена. Спасибо!"),
]


def read_values(bootstrap: str, topic: str) -> list[bytes]:
    return [r.value for r in read_topic(bootstrap, topic)]


def _env(settings, kafka_bootstrap, tmp_path, **extra) -> dict[str, str]:
    base = free_ports(3)
    page = free_ports(3)  # the page, then the Bot API and the Okdesk stand-ins
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "OKDESK_", "WEBHOOK_"))}
    env.update({
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TOPIC_PREFIX": settings.topic_prefix,
        "TOPIC_PARTITIONS": str(settings.topic_partitions), "STREAMS_APP_ID": f"okrate-streams-{settings.topic_prefix}",
        "STREAMS_STORE": "memory://", "STREAMS_DATA_DIR": str(tmp_path / "streams"),
        "INGEST_HOST": "127.0.0.1", "INGEST_PORT": str(base), "STATS_PORT": str(base + 1), "NOTIFIER_PORT": str(base + 2),
        "SANDBOX_PORT": str(page), "LOG_LEVEL": "INFO",
    })
    env.update(extra)
    return env


async def _get(session, url):
    async with session.get(url) as response:
        return response.status, (await response.json() if response.content_type == "application/json" else await response.text())


async def _wait(predicate, timeout=90, every=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await predicate()
        if result:
            return result
        await asyncio.sleep(every)
    raise AssertionError("timed out")


@pytest.fixture
def okrate_run(settings_for, kafka_bootstrap, tmp_path):
    settings = settings_for()
    env = _env(settings, kafka_bootstrap, tmp_path)
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "okrate.cli", "run"], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    yield proc, env, settings, tmp_path / "run.log"
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    log.close()


async def test_resolve_press_comment_restart_and_stop(okrate_run, kafka_bootstrap):
    proc, env, settings, log_path = okrate_run
    page = f"http://127.0.0.1:{env['SANDBOX_PORT']}"
    ingest = f"http://127.0.0.1:{env['INGEST_PORT']}"
    async with aiohttp.ClientSession() as http:
        async def page_up():
            try:
                return (await _get(http, f"{page}/api/okdesk/issues"))[0] == 200
            except aiohttp.ClientError:
                return False

        async def notifier_polling():
            return b"notifier running" in log_path.read_bytes()

        await _wait(page_up)
        await _wait(notifier_polling)
        status, health = await _get(http, f"http://127.0.0.1:{env['NOTIFIER_PORT']}/healthz")
        assert status == 200 and health["role"] == "active"
        status, metrics = await _get(http, f"http://127.0.0.1:{env['NOTIFIER_PORT']}/metrics")
        assert status == 200 and "okrate_notifier_active 1.0" in metrics
        for issue_id, label, score, native, answer in RATINGS:
            async with http.post(f"{page}/api/okdesk/issues/{issue_id}/status", json={"status": "completed"}) as response:
                delivered = await response.json()
            assert [d["status"] for d in delivered["deliveries"]] == [200]

            async def rating_message(issue_id=issue_id):
                _, chat = await _get(http, f"{page}/api/telegram/chats/1001")
                return next((m for m in chat["messages"] if m["buttons"] and f"№{issue_id}" in m["text"]), None)

            message = await _wait(rating_message)
            if issue_id == 1380:
                assert "Принтер <HP> не печатает & мигает" in message["text"]
            button = next(b for row in message["buttons"] for b in row if b["text"] == label)
            async with http.post(f"{page}/api/telegram/chats/1001/press",
                                 json={"message_id": message["message_id"], "data": button["callback_data"]}) as response:
                assert response.status == 200

            async def commented(issue_id=issue_id):
                _, issue = await _get(http, f"{page}/api/okdesk/issues/{issue_id}")
                return issue if issue["comments"] and issue["rate"] else None

            issue = await _wait(commented)
            request_id = button["callback_data"].split(":")[1]
            [rating] = [r for r in map(decode, read_values(kafka_bootstrap, RATING_RECORDED.full_name(settings)))
                        if isinstance(r, RatingRecorded) and r.request_id == request_id]
            when = f"{rating.pressed_at.astimezone(ZoneInfo('Europe/Moscow')):%d.%m.%Y %H:%M}"
            # exactly what the service desk reads, and Okdesk's own rate for the score pressed
            assert [c["html"] for c in issue["comments"]] == [
                f"{'⭐' * score} Оценка клиента: <b>{score} — {label.split()[1]}</b><br>Оценил(а) пользователь "
                f"Telegram 1001 (контакт №95), {when}.<br><small>[okrate:{request_id}]</small>"]
            assert issue["rate"] == native
            # the press's spinner was stopped with what the streams decided
            async def answered(data=button["callback_data"]):
                _, chat = await _get(http, f"{page}/api/telegram/chats/1001")
                return [a["text"] for a in chat["callback_answers"] if a["data"] == data and a["text"]]

            assert await _wait(answered) == [answer]
        _, metrics = await _get(http, f"http://127.0.0.1:{env['NOTIFIER_PORT']}/metrics")
        assert 'okrate_notifier_outcomes{kind="okdesk.comment",status="ok"} 2.0' in metrics

        # A killed child is restarted by the supervisor.
        ingest_pid = int(subprocess.run(["pgrep", "-f", "-P", str(proc.pid), "okrate.cli ingest"],
                                        capture_output=True, text=True, check=True).stdout.split()[0])
        os.kill(ingest_pid, signal.SIGKILL)

        async def ingest_back():
            try:
                return (await _get(http, f"{ingest}/healthz"))[0] == 200 and b"ingest exited with" in log_path.read_bytes()
            except aiohttp.ClientError:
                return False

        await _wait(ingest_back)

        # SIGTERM during a load of webhooks: everything answered 200 is in Kafka.
        accepted = 0
        body = json.dumps({"event": {"event_type": "issue.updated"}, "issue": {"id": 9000, "status": {"code": "opened"}}}).encode()
        stop = asyncio.Event()

        async def client():
            nonlocal accepted
            while not stop.is_set():
                try:
                    async with http.post(f"{ingest}{settings.webhook_path}", data=body) as response:
                        accepted += response.status == 200
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)

        clients = [asyncio.create_task(client()) for _ in range(4)]
        await asyncio.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 90)
        stop.set()
        await asyncio.gather(*clients)
    assert proc.returncode == 0, log_path.read_text()[-3000:]
    # every child stopped by itself on SIGTERM (exit 0), none had to be killed
    text = log_path.read_text()
    names = re.search(r"okrate is running \(([^)]*)\)", text)[1].split(", ")
    assert len(names) >= 4, names
    for name in names:
        assert f"{name} stopped (exit 0)" in text, (name, text[-3000:])
    assert "did not stop within" not in text
    assert accepted > 5
    assert count_messages(kafka_bootstrap, OKDESK_EVENTS.full_name(settings)) >= accepted + 1


@pytest.mark.parametrize(("extra", "named"), [
    ({"TELEGRAM_BOT_TOKEN": "123456:" + "A" * 35}, "OKDESK_API_URL"),
    ({"OKDESK_API_URL": "https://acme.okdesk.ru/api/v1/", "OKDESK_API_TOKEN": "t"}, "TELEGRAM_BOT_TOKEN"),
    ({"TELEGRAM_BOT_TOKEN": "nonsense", "OKDESK_API_URL": "acme.okdesk.ru", "RATING_EXPIRY": "7 days"}, "TELEGRAM_BOT_TOKEN"),
])
def test_bad_or_half_configuration_is_refused_by_name(tmp_path, extra, named):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "OKDESK_"))}
    env.update({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", **extra})
    result = subprocess.run([sys.executable, "-m", "okrate.cli", "run"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert named in result.stderr
    if "RATING_EXPIRY" in extra:  # every problem at once
        assert "OKDESK_API_URL" in result.stderr and "RATING_EXPIRY" in result.stderr


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in found.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_supervisor_killed_hard_leaves_no_orphans_and_a_fresh_run_starts_cleanly(settings_for, kafka_bootstrap, tmp_path):
    """`kill -9` of `okrate run`: its children (in sessions of their own) end with it, their ports
    are free, and the next `okrate run` starts every service without a restart."""
    settings = settings_for()
    env = _env(settings, kafka_bootstrap, tmp_path)
    urls = [f"http://127.0.0.1:{env['SANDBOX_PORT']}/api/okdesk/issues", f"http://127.0.0.1:{env['INGEST_PORT']}/healthz",
            f"http://127.0.0.1:{env['STATS_PORT']}/metrics", f"http://127.0.0.1:{env['NOTIFIER_PORT']}/healthz"]

    async def answers(http, url) -> bool:
        try:
            return (await _get(http, url))[0] == 200
        except aiohttp.ClientError:
            return False

    async def all_up(http) -> bool:
        return all([await answers(http, url) for url in urls])

    runs: list[subprocess.Popen] = []

    async def start(name: str) -> subprocess.Popen:
        log_path = tmp_path / f"{name}.log"
        with log_path.open("wb") as log:
            runs.append(subprocess.Popen([sys.executable, "-m", "okrate.cli", "run"], env=env, cwd=tmp_path,
                                         stdout=log, stderr=subprocess.STDOUT))
        await _wait(lambda: all_up(http), timeout=120)
        assert b"exited with" not in log_path.read_bytes(), log_path.read_text()[-3000:]
        assert b"web views on 127.0.0.1:" in log_path.read_bytes()  # no ADMIN_TOKEN: said at start
        return runs[-1]

    try:
        async with aiohttp.ClientSession() as http:
            first = await start("first")
            children = _children(first.pid)
            assert len(children) == 4  # sandbox, ingest, streams, notifier
            first.kill()
            first.wait(10)

            async def orphans_gone():
                return not any(_alive(pid) for pid in children)

            async def ports_free():
                return not any([await answers(http, url) for url in urls])

            await _wait(orphans_gone, timeout=60, every=0.2)
            await _wait(ports_free, timeout=10, every=0.2)
            await start("second")  # every service up, none restarted
    finally:
        for proc in runs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()


async def test_in_chromium_the_product_itself_resolve_press_and_see_the_comment(okrate_run):
    """`okrate run` in sandbox mode, driven through the sandbox page as a person would: an issue's
    status changed on the Okdesk side, the rating message in the chat, a star clicked, the answer
    on the button, the comment and Okdesk's rate on the issue's page."""
    from tests.browser import launch
    from tests.sandbox.test_page import chromium_or_skip

    executable = chromium_or_skip()
    proc, env, _settings, log_path = okrate_run
    base = f"http://127.0.0.1:{env['SANDBOX_PORT']}"
    async with aiohttp.ClientSession() as http:
        async def ready():
            try:
                page_up = (await _get(http, f"{base}/api/okdesk/issues"))[0] == 200
            except aiohttp.ClientError:
                return False
            return page_up and b"notifier running" in log_path.read_bytes()

        await _wait(ready)
    async with launch(executable) as browser:
        page = await browser.new_page(1440, 900)
        await page.goto(base + "/")
        await page.click('#chat-list [data-chat-id="1001"]')
        await page.wait_for("document.querySelector('#chat-title').textContent === 'Иван Петров'")

        # the service desk resolves issue 1380: the Okdesk stand-in posts its webhook to the ingest
        await page.click('#issue-rows [data-issue-id="1380"]')
        await page.wait_for("document.querySelector('#issue-detail').dataset.issueId === '1380'")
        await page.set_value("#status-select", "completed")
        await page.click("#status-apply")
        result = await page.wait_for(
            "(e => e.className.includes('ok') && e.textContent)(document.querySelector('#status-result'))")
        assert "HTTP 200" in result

        # the streams ask for a rating, the notifier sends it: it shows in the chat
        four = '#messages button.ikb-btn[data-callback-data^="r:1380."][data-callback-data$=":4"]'
        await page.wait_for(f"!!document.querySelector('{four}')", timeout=90)
        assert await page.evaluate(f"document.querySelector('{four}').textContent") == "⭐⭐⭐⭐ Хорошо (4)"
        assert "Принтер <HP> не печатает & мигает" in await page.evaluate(
            f"document.querySelector('{four}').closest('.msg-wrap').querySelector('.text').textContent")

        # the client clicks four stars: the button's answer says what the streams decided, the
        # message becomes the score, and the comment and the rate reach the issue
        await page.click(four)
        await page.wait_for("document.querySelector('#toast').textContent === 'Оценка ⭐⭐⭐⭐ (4) учтена. Спасибо!'",
                            timeout=30)
        await page.wait_for("[...document.querySelectorAll('#messages .msg-wrap')].some(w => !!w.querySelector('.edited')"
                            " && w.querySelector('.text').textContent.includes('Ваша оценка: ⭐⭐⭐⭐ Хорошо (4)'))",
                            timeout=30)
        await page.wait_for("document.querySelector('#messages').innerText.includes('Спасибо за оценку')", timeout=30)
        bold = await page.wait_for(
            "(b => b && b.textContent)(document.querySelector('#comments .comment-body b'))", timeout=60)
        assert bold == "4 — Хорошо"
        comment = await page.evaluate("document.querySelector('#comments .comment-body').innerText")
        assert "Оценил(а) пользователь Telegram 1001 (контакт №95)" in comment
        await page.wait_for("document.querySelector('[data-field=\"okdesk rate\"]').textContent.startsWith('Хорошо')",
                            timeout=60)
        assert page.errors == []
    assert proc.poll() is None  # still running: nothing crashed on the way
