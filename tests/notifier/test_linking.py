"""Notifier III: clients link themselves in the bot, and can leave (real broker, the stand-ins).

The Okdesk stand-in answers a phone lookup with one contact or 404; real Okdesk may answer a list.
This module's stand-in answers a list when several contacts share the number, as real Okdesk may."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta

import pytest

from base.links import link_record
from notifier.telegram.invites import new_invite, write_invite
from sandbox.okdesk_api import running_okdesk
from sandbox.okdesk_state import OkdeskState
from schemas.codec import encode
from schemas.keys import contact_key
from schemas.records import utc_now
from schemas.topics import CONTACT_LINKS, RATING_REQUESTED
from tests.integration.test_streams_requests import okdesk_status
from tests.notifier.conftest import ROOT, running_notifier
from tests.notifier.helpers import keyboard_shows_share_button, links_async, said
from tests.streams_harness import Feeder, running_streams, wait_for


@pytest.fixture
async def okdesk(monkeypatch):
    import sandbox.okdesk_api as api

    original = api.find_contact

    async def find_contact(state, request, body):
        if "phone" in request.query:
            found = state.contacts_with_phone(request.query["phone"])
            if len(found) > 1:
                return [c.as_dict() for c in found]  # as real Okdesk may answer
        return await original(state, request, body)

    monkeypatch.setattr(api, "find_contact", find_contact)
    async with running_okdesk(OkdeskState()) as running:
        yield running


def feed_link(settings, bootstrap, contact: str, user: int) -> None:
    Feeder(settings, bootstrap).raw(CONTACT_LINKS, contact_key(contact),
                                    encode(link_record(contact, "linked", "operator", user)))


async def test_linking_by_shared_phone(kafka_bootstrap, nsettings, tg, okdesk):
    settings = nsettings()
    od = okdesk.state
    company = od.add_company("ООО Ромашка")
    od.add_contact("Анна", "Петрова", phone="+7 (916) 111-22-33", company_id=company.id, id=95)
    od.add_contact("Борис", phone="+7 916 222-33-44", id=96)
    od.add_contact("Борис", "мл.", mobile_phone="8 916 222-33-44", id=97)
    feed_link(settings, kafka_bootstrap, "98", 1005)
    state = tg.state
    own = state.user(1001, "Анна", phone_number="79161112233")
    other = state.user(1002, "Мошенник", phone_number="79160000000")
    unknown = state.user(1003, "Незнакомец", phone_number="79169999999")
    twice = state.user(1004, "Борис", phone_number="79162223344")
    linked = state.user(1005, "Вера")
    async with running_notifier(settings, kafka_bootstrap):
        for user in (own, other, unknown, twice):
            user.command("start")
        linked.command("start")
        for user in (own, other, unknown, twice):
            await said(state, user, "Поделиться номером телефона")
            assert keyboard_shows_share_button(user)
        await said(state, linked, "уже связан")

        own.share_contact()
        other.send_contact("+7 916 111-22-33", "Анна", user_id=1001)  # someone else's card
        unknown.share_contact()
        twice.share_contact()
        await said(state, own, "Готово")
        await said(state, other, "не ваш контакт")
        [nf] = await said(state, unknown, "не нашли контакт")
        [amb] = await said(state, twice, "несколько контактов")
    assert "+7 916 999-99-99" in nf.text and "https://acme.okdesk.ru" in nf.text
    assert "службу поддержки" in amb.text
    assert not keyboard_shows_share_button(own)  # removed afterwards
    assert not keyboard_shows_share_button(unknown) and not keyboard_shows_share_button(twice)
    assert keyboard_shows_share_button(other)  # refused: the user may still share their own
    links = [r for r in await links_async(kafka_bootstrap, settings) if r.source != "operator"]
    assert [(r.contact_id, r.state, r.telegram_user_id, r.chat_id, r.source) for r in links] == [
        ("95", "linked", 1001, 1001, "phone")]
    lookups = [c.params["query"].get("phone") for c in od.calls_to("find_contact")]
    assert "+79161112233" in lookups  # normalised, "+" and all


def okrate_cli(settings, bootstrap, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "TOPIC_PREFIX": settings.topic_prefix,
           "TOPIC_PARTITIONS": str(settings.topic_partitions), "TELEGRAM_BOT_TOKEN": settings.telegram_bot_token,
           "TELEGRAM_API_URL": settings.telegram_api_url, "LINK_INVITE_TTL": "2d"}
    return subprocess.run([sys.executable, "-m", "okrate.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)


async def test_linking_by_invite_valid_reused_expired(kafka_bootstrap, nsettings, tg, okdesk):
    settings = nsettings()
    state = tg.state
    first, second, late, stranger = (state.user(u) for u in (1101, 1102, 1103, 1104))
    expired = replace(new_invite("96", timedelta(days=7)), expires_at=utc_now() - timedelta(minutes=1))
    write_invite(settings, kafka_bootstrap, expired)
    async with running_notifier(settings, kafka_bootstrap):
        made = await asyncio.to_thread(okrate_cli, settings, kafka_bootstrap, "link", "invite", "--contact", "95")
        assert made.returncode == 0, made.stderr
        url = made.stdout.strip()
        assert url.startswith("https://t.me/okrate_sandbox_bot?start=")
        token = url.split("=", 1)[1]
        assert 20 <= len(token) <= 64 and "valid for 2d" in made.stderr
        await asyncio.sleep(0.5)  # the invite reaches the running notifier through bot.state
        first.command("start", token)
        await said(state, first, "Готово")
        second.command("start", token)
        late.command("start", expired.token)
        stranger.command("start", "no-such-token")
        await said(state, second, "уже использована")
        await said(state, late, "истёк")
        await said(state, stranger, "недействительна")
    links = [r for r in await links_async(kafka_bootstrap, settings)]
    assert [(r.contact_id, r.telegram_user_id, r.source) for r in links] == [("95", 1101, "invite")]


async def test_the_notifier_restarted_mid_conversation_loses_nothing(kafka_bootstrap, nsettings, tg, okdesk):
    settings = nsettings()
    okdesk.state.add_contact("Анна", phone="+79161112233", id=95)
    state = tg.state
    user = state.user(1201, "Анна", phone_number="+79161112233")
    async with running_notifier(settings, kafka_bootstrap):
        user.command("new")  # not linked yet: asked to link first, then the new issue goes on
        await said(state, user, "сначала свяжите аккаунт")
    user.share_contact()  # while the notifier is down
    async with running_notifier(settings, kafka_bootstrap):
        await said(state, user, "Готово")
        await said(state, user, "Опишите, пожалуйста, проблему")
        await asyncio.sleep(0.5)
    texts = [m.text for m in user.bot_messages()]
    assert len(texts) == 3, texts  # nothing said twice after the restart
    assert sum("сначала свяжите" in t for t in texts) == 1


async def test_stop_then_a_new_resolution_sends_nothing(kafka_bootstrap, nsettings, tg, okdesk, data_dir):
    settings = nsettings()
    okdesk.state.add_contact("Анна", phone="+79161112233", id=95)
    state = tg.state
    user = state.user(1301, "Анна", phone_number="+79161112233")
    feed = Feeder(settings, kafka_bootstrap)
    async with running_streams(settings, kafka_bootstrap, data_dir), running_notifier(settings, kafka_bootstrap):
        user.command("start")
        await said(state, user, "Поделиться номером")
        user.share_contact()
        await said(state, user, "Готово")
        feed.webhook("500", okdesk_status(500, "completed", "opened", contact=95))
        [request_message] = await said(state, user, "Заявка №500", within=30)
        user.command("stop")
        await said(state, user, "Вы отписались")
        await said(state, user, "больше не связан", within=30)  # the open request is closed
        feed.webhook("501", okdesk_status(501, "completed", "opened", contact=95))
        await wait_for(kafka_bootstrap, settings, RATING_REQUESTED,
                       lambda rs: any(getattr(r, "issue_id", None) == "501" for r in rs), timeout=30)
        await asyncio.sleep(1.5)
    assert not any("№501" in (m.text or "") for m in user.bot_messages())
    assert user.bot_messages()[[m.message_id for m in user.bot_messages()].index(request_message.message_id)].buttons == ()
    sources = [(r.state, r.source) for r in await links_async(kafka_bootstrap, settings)]
    assert sources == [("linked", "phone"), ("unlinked", "stop")]
