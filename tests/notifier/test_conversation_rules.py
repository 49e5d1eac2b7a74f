"""Notifier III–V's pure rules: phones, invites, the reason question, reason comments, alerts and
their batches, the new issue's text and marker, quiet hours, languages and editable texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from base.links import link_record
from notifier import decide, render
from notifier.locale import Texts, TextsError, texts_markdown
from notifier.okdesk.issue_create import find_marked
from notifier.okdesk.writeback import okdesk_writes, reconciled
from notifier.telegram import phones
from notifier.telegram.alerts import Alert, alert_for, batches
from notifier.telegram.bot_state import BotState, LinksView
from notifier.telegram.invites import TOKEN, invite_url, invite_verdict, new_invite
from notifier.telegram.quiet_hours import QuietHours, may_send_at
from schemas.callback_data import parse
from schemas.records import ConversationState, ReasonRecorded
from tests.notifier.conftest import T0, recorded, request

TEXTS = Texts.load()
REASONS = ("Долго", "Проблема не решена", "Невежливо", "Другое")
CTX = decide.Context(TEXTS, "https://acme.okdesk.ru", reasons=REASONS)


def reason(req, code: str | None, text: str | None = None, score: int = 2) -> ReasonRecorded:
    return ReasonRecorded(event_id=f"{req.request_id}/reason/{code or 'text'}", request_id=req.request_id,
                          issue_id=req.issue_id, score=score, reason_code=code, text=text,
                          from_user_id=req.recipient_user_id, update_id=9, given_at=T0, title=req.title)


@pytest.mark.parametrize(("raw", "e164"), [
    ("79161234567", "+79161234567"),  # as Telegram sends it: digits, no "+"
    ("+7 (916) 123-45-67", "+79161234567"),
    ("89161234567", "+79161234567"),  # Russian by default
    ("441632960961", "+441632960961"),
    ("", None), ("hello", None),
])
def test_phones_are_normalised_with_russian_numbers_by_default(raw, e164):
    assert phones.normalise(raw) == e164


def test_russian_numbers_are_also_looked_up_in_their_domestic_form():
    assert phones.lookup_forms("+79161234567") == ["+79161234567", "89161234567"]
    assert phones.lookup_forms("+441632960961") == ["+441632960961"]


def test_invites_are_random_one_time_and_expiring():
    invite = new_invite("95", timedelta(days=7), now=T0)
    assert TOKEN.fullmatch(invite.token) and len(invite.token) <= 64
    assert new_invite("95", timedelta(days=7)).token != invite.token
    assert invite.expires_at == T0 + timedelta(days=7)
    assert invite_verdict(invite, T0 + timedelta(days=6)) == "valid"
    assert invite_verdict(invite, T0 + timedelta(days=7)) == "expired"
    assert invite_verdict(None, T0) == "unknown"
    from dataclasses import replace

    assert invite_verdict(replace(invite, used_at=T0, used_by_user_id=5), T0) == "used"
    assert invite_url("okrate_bot", invite.token) == f"https://t.me/okrate_bot?start={invite.token}"


def test_a_used_invite_stays_used_and_the_links_view_follows_the_latest_record():
    state = BotState()
    invite = new_invite("95", timedelta(days=1))
    from dataclasses import replace

    used = replace(invite, used_at=T0, used_by_user_id=5)
    state.apply(used)
    state.apply(invite)  # an older record read back later
    assert state.invites[invite.token].used_at == T0
    links = LinksView()
    links.apply(replace(link_record("95", "linked", "phone", 5), changed_at=T0))
    links.apply(replace(link_record("96", "linked", "operator", 5), changed_at=T0 + timedelta(seconds=1)))
    assert links.contacts_of(5) == ["96", "95"]
    links.apply(replace(link_record("96", "unlinked", "stop", 5), changed_at=T0 + timedelta(seconds=2)))
    links.apply(replace(link_record("96", "linked", "operator", 5), changed_at=T0 + timedelta(seconds=1)))  # old
    assert links.contacts_of(5) == ["95"]


def test_a_step_lapses_and_the_language_stays():
    state = BotState()
    state.chats[7] = ConversationState(chat_id=7, step="awaiting_reason", data={"lang": "en"}, updated_at=T0,
                                       expires_at=T0 + timedelta(hours=1))
    assert state.step(7, T0) == "awaiting_reason" and state.step(7, T0 + timedelta(hours=2)) == "idle"
    assert state.language(7) == "en" and state.language(8) is None


def test_a_low_score_is_asked_what_went_wrong_and_a_good_one_is_not():
    req = request(90, user=501)
    *_, question = decide.decision_actions(recorded(req, 2, message_id=3), CTX)
    labels = [b.text for row in question.message.keyboard for b in row]
    assert labels == [*REASONS, "Пропустить"]
    presses = [parse(b.data) for row in question.message.keyboard[:-1] for b in row]
    assert [(p.request_id, p.reason_index) for p in presses] == [(req.request_id, i) for i in range(4)]
    assert "своими словами" in question.message.text and question.chat_id == 501
    assert len(decide.decision_actions(recorded(req, 4, message_id=3), CTX)) == 2


def test_a_recorded_reason_is_thanked_commented_once_and_alerted():
    req = request(91, user=502)
    [thanks] = decide.decision_actions(reason(req, "Долго"), CTX)
    assert thanks.key == f"{req.request_id}:reason.Долго:502" and "Долго" in thanks.message.text
    [write] = okdesk_writes(reason(req, "Долго"), TEXTS, timezone="Europe/Moscow", native_rate=True)
    assert write.key == f"{req.request_id}:okdesk.reason:Долго"
    assert "<b>Долго</b>" in write.details["content"] and write.details["marker"] in write.details["content"]
    [text_write] = okdesk_writes(reason(req, None, "Ждал <3> дня"), TEXTS, timezone="Europe/Moscow", native_rate=True)
    assert "Ждал &lt;3&gt; дня" in text_write.details["content"]
    assert text_write.key.endswith(":okdesk.reason:text")
    # the rating comment's marker never matches a reason comment, and vice versa
    assert reconciled(write, comments=[{"id": 1, "content": f"x [okrate:{req.request_id}] y"}]) is None
    alert = alert_for(reason(req, None, "Ждал"), TEXTS, 2, None)
    assert alert is not None and "«Ждал»" in alert.text and "№91" in alert.text
    assert alert_for(reason(req, "Долго", score=3), TEXTS, 2, None) is None


def test_a_low_rating_alert_names_the_issue_and_links_to_it():
    rec = recorded(request(92, user=503, title="VPN <офис>"), 1, message_id=None)
    alert = alert_for(rec, TEXTS, 2, "https://acme.okdesk.ru")
    assert alert is not None and alert.key == f"{rec.request_id}:alert"
    assert "⭐ (1)" in alert.text and "VPN &lt;офис&gt;" in alert.text
    assert 'href="https://acme.okdesk.ru/issues/92"' in alert.text
    assert alert_for(recorded(request(92), 3, message_id=None), TEXTS, 2, None) is None


@given(st.lists(st.integers(1, 900), max_size=40), st.integers(1000, 4000))
def test_batches_keep_order_and_stay_under_the_limit(sizes, limit):
    alerts = [Alert(str(i), "1", "1.0.1", "x" * n) for i, n in enumerate(sizes)]
    out = batches(alerts, limit)
    assert [a for batch in out for a in batch] == alerts
    for batch in out:
        assert len(batch) == 1 or sum(len(a.text) for a in batch) + 2 * (len(batch) - 1) <= limit


def test_the_new_issue_text_and_its_marker():
    assert render.split_issue_text("Не печатает принтер", "T") == ("Не печатает принтер", "Не печатает принтер")
    assert render.split_issue_text("Принтер\nНе печатает с утра", "T") == ("Принтер", "Не печатает с утра")
    title, _ = render.split_issue_text("слово " * 60, "T")
    assert len(title) <= 121 and title.endswith("…")
    marker = render.new_issue_marker(100000042)
    issues = [{"id": 5, "description": "другое"}, {"id": "6", "description": f"текст<br>{marker}"}]
    assert find_marked(issues, marker) == "6" and find_marked(issues[:1], marker) is None


MSK = "Europe/Moscow"


@pytest.mark.parametrize(("local", "expected_local"), [
    ("2026-03-02 23:30", "2026-03-03 09:00"),  # the evening part: tomorrow morning
    ("2026-03-03 03:00", "2026-03-03 09:00"),
    ("2026-03-03 08:59", "2026-03-03 09:00"),
    ("2026-03-03 09:00", None),  # the end itself is awake
    ("2026-03-03 14:00", None),
    ("2026-03-03 22:00", "2026-03-04 09:00"),
])
def test_quiet_hours_release_at_their_end(local, expected_local):
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(MSK)
    quiet = QuietHours.parse("22:00-09:00", MSK)
    now = datetime.fromisoformat(local).replace(tzinfo=zone)
    release = quiet.release_at(now)
    if expected_local is None:
        assert release is None and may_send_at(now, quiet) == now
    else:
        assert release == datetime.fromisoformat(expected_local).replace(tzinfo=zone)
        assert may_send_at(now, quiet) == release


def test_quiet_hours_within_one_day_and_off():
    quiet = QuietHours.parse("13:00-14:00", "UTC")
    assert quiet.release_at(datetime(2026, 3, 3, 13, 30, tzinfo=UTC)) == datetime(2026, 3, 3, 14, 0, tzinfo=UTC)
    assert quiet.release_at(datetime(2026, 3, 3, 12, 59, tzinfo=UTC)) is None
    assert QuietHours.parse(None) is None and QuietHours.parse("off") is None


def test_english_users_get_english_and_bot_locale_en_makes_it_everyones():
    ctx = decide.Context(TEXTS, None, reasons=REASONS, language={600: "en-GB", 601: "ru"}.get)
    [en] = decide.request_actions(request(93, user=600), ctx)
    [ru] = decide.request_actions(request(94, user=601), ctx)
    assert "Please rate" in en.message.text and en.message.keyboard[0][0].text == "⭐⭐⭐⭐⭐ Excellent (5)"
    assert "Пожалуйста, оцените" in ru.message.text
    *_, question = decide.decision_actions(recorded(request(93, user=600), 1, message_id=1), ctx)
    assert [b.text for row in question.message.keyboard for b in row][:2] == ["Took too long", "Problem not solved"]
    everyone = decide.Context(Texts.load("en"), None, language={601: "ru"}.get)
    [forced] = decide.request_actions(request(94, user=601), everyone)
    assert "Please rate" in forced.message.text


def test_overrides_fall_back_key_by_key_and_bad_files_name_the_line(tmp_path):
    (tmp_path / "ru.json").write_text('{\n  "thanks.text": "Благодарим!",\n  "link.done": "Связали."\n}',
                                      encoding="utf-8")
    custom = Texts.load("auto", tmp_path)
    assert custom.get("thanks.text") == "Благодарим!" and custom.get("link.done") == "Связали."
    assert custom.get("thanks.text", "en").startswith("Thank you")  # en.json not overridden
    assert custom.get("stop.done").startswith("Вы отписались")
    (tmp_path / "ru.json").write_text('{\n  "thanks.text": "Спасибо",\n  "new.created": "№{number}"\n}',
                                      encoding="utf-8")
    with pytest.raises(TextsError, match=r"ru\.json: line 3: 'new.created' uses \{number\}"):
        Texts.load("auto", tmp_path)
    (tmp_path / "ru.json").write_text('{\n  "thanks.text": 5\n}', encoding="utf-8")
    with pytest.raises(TextsError, match=r"ru\.json: line 2: the value of 'thanks.text' must be a string"):
        Texts.load("auto", tmp_path)


def test_every_key_has_both_languages_and_the_readme_table_lists_them():
    ru, en = TEXTS.tables["ru"], TEXTS.tables["en"]
    assert set(ru) <= set(en)
    for key in ru:
        assert render_placeholders(ru[key]) == render_placeholders(en[key]), key
    table = texts_markdown()
    assert table.startswith("| key | ru (default) | en |")
    assert all(f"| `{key}` |" in table for key in ru)


def render_placeholders(text: str) -> set[str]:
    from notifier.locale import placeholders

    return placeholders(text)


class _Publisher:
    async def publish(self, topic, key, value, *, timeout):
        return None


async def test_a_request_closed_during_quiet_hours_is_never_sent_and_a_restart_resumes_the_others():
    from notifier.outcomes.log import OutcomeLog, Recorder
    from notifier.telegram.scheduled import QuietScheduler
    from schemas.records import RatingClosed

    sent = []

    async def run(record):
        sent.append(record.issue_id)

    log = OutcomeLog()
    recorder = Recorder(_Publisher(), "t", log)
    quiet = QuietHours.parse("22:00-09:00", "UTC")
    now = datetime(2026, 3, 3, 8, 59, 59, 900_000, tzinfo=UTC)
    scheduler = QuietScheduler(quiet, recorder, log, run, clock=lambda: now)
    closed, kept = request(95, user=1), request(96, 2, user=2)
    release = scheduler.release_at()
    assert release == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    await scheduler.schedule(closed, release)
    await scheduler.schedule(kept, release)
    await scheduler.schedule(kept, release)  # redelivered: scheduled once
    await scheduler.cancel(RatingClosed(event_id="c", request_id=closed.request_id, issue_id="95",
                                        reason="deleted", closed_at=T0))
    await scheduler.close()  # the notifier stops before the quiet hours end
    assert sent == [] and [e.key for e in log.pending("telegram.scheduled")] == [f"{kept.request_id}:scheduled:{kept.event_id}"]
    clock = [now]
    restarted = QuietScheduler(quiet, recorder, log, run, clock=lambda: clock[0], recheck=0.01)
    assert restarted.resume_pending() == 1
    import asyncio

    await asyncio.sleep(0.05)
    assert sent == []  # still quiet: the clock has not moved
    clock[0] = release  # the quiet hours end
    for _ in range(500):
        if sent:
            break
        await asyncio.sleep(0.01)
    await restarted.close()
    assert sent == ["96"] and log.pending("telegram.scheduled") == []
