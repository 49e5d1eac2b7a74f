"""The notifier's pure decisions: no Kafka, no network."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifier import decide, render
from notifier.consumer import OffsetTracker
from notifier.locale import Texts, TextsError
from notifier.okdesk.writeback import okdesk_writes, reconciled, write_of
from notifier.outcomes.log import OutcomeLog
from notifier.telegram.callbacks import Press, press_to_answer
from notifier.telegram.press_answers import PressDecisions, Standing, answer_text
from schemas.callback_data import parse
from schemas.records import (
    RatingClosed,
    RatingExpired,
    RatingReminder,
    SideEffectIntent,
    SideEffectOutcome,
)
from schemas.telegram_envelope import telegram_envelope
from tests.notifier.conftest import T0, recorded, rejected, request

TEXTS = Texts.load()
CTX = decide.Context(TEXTS, "https://acme.okdesk.ru/")


def test_the_request_message_escapes_what_comes_from_okdesk_and_has_the_seed_buttons():
    req = request(77, title="<script>a & b</script>", status_name="Решена <ok>")
    [action] = decide.request_actions(req, CTX)
    text = action.message.text
    assert "&lt;script&gt;a &amp; b&lt;/script&gt;" in text and "<script>" not in text
    assert "Решена &lt;ok&gt;" in text
    assert '<a href="https://acme.okdesk.ru/issues/77">' in text
    assert [b.text for row in action.message.keyboard for b in row] == [
        "⭐⭐⭐⭐⭐ Отлично (5)", "⭐⭐⭐⭐ Хорошо (4)", "⭐⭐⭐ Нормально (3)", "⭐⭐ Плохо (2)", "⭐ Ужасно (1)"]
    assert [parse(b.data).score for row in action.message.keyboard for b in row] == [5, 4, 3, 2, 1]
    assert action.key == f"{req.request_id}:request:501"


def test_an_undeliverable_request_sends_nothing_and_a_readdressed_one_is_a_new_delivery():
    req = request(78)
    assert decide.request_actions(replace(req, deliverable=False, recipient_user_id=None, recipient_chat_id=None), CTX) == []
    [first] = decide.request_actions(req, CTX)
    [again] = decide.request_actions(replace(req, recipient_user_id=900, recipient_chat_id=900), CTX)
    assert first.key != again.key


def test_reminders_reply_to_the_request_and_closings_edit_every_delivery():
    req = request(79)
    deliveries = [decide.Delivery(501, 501, 10), decide.Delivery(900, 900, 3)]
    [reminder] = decide.request_actions(
        RatingReminder(event_id="r", request_id=req.request_id, issue_id="79", reminded_at=T0,
                       recipient_user_id=501, recipient_chat_id=501), CTX, deliveries)
    assert reminder.reply_to_key == f"{req.request_id}:request:501" and reminder.op == "send"
    closes = decide.request_actions(RatingClosed(event_id="c", request_id=req.request_id, issue_id="79",
                                                 reason="deleted", closed_at=T0), CTX, deliveries)
    assert sorted(a.chat_id for a in closes) == [501, 900] and {a.op for a in closes} == {"edit"}
    assert all("удалена" in a.note for a in closes)
    [expiry] = decide.request_actions(RatingExpired(event_id="e", request_id=req.request_id, issue_id="79",
                                                    expired_at=T0, recipient_user_id=501, recipient_chat_id=501),
                                      CTX, deliveries[:1])
    assert "истекло" in expiry.note


@pytest.mark.parametrize("reason", ["already_rated", "expired", "outdated", "not_yours", "invalid", "unknown",
                                    "deleted", "reopened", "unlinked", "rated_in_portal", "something_new"])
def test_every_rejection_has_its_own_polite_text(reason):
    [action] = decide.decision_actions(rejected(request(80), reason, message_id=5, update_id=9, standing=4), CTX)
    text = action.message.text
    if reason == "something_new":
        assert text == TEXTS.get("rejected.other")
    else:
        assert text and text != TEXTS.get("rejected.other")
    assert action.reply_to_message_id == 5
    if reason == "already_rated":
        assert "⭐⭐⭐⭐ (4)" in text


def test_a_recorded_rating_replaces_the_buttons_and_thanks_with_the_new_issue_offer():
    edit, thanks = decide.decision_actions(recorded(request(81), 3, message_id=12), CTX)
    assert edit.op == "edit" and edit.message_id == 12 and "⭐⭐⭐ Нормально (3)" in edit.note
    assert thanks.op == "send" and [b.text for row in thanks.message.keyboard for b in row] == ["Создать новую заявку"]
    assert render.edited_text("orig", edit.note, None, "81").startswith("orig\n\n")
    assert "&lt;x&gt;" in render.edited_text(None, "n", "<x>", "81")


def test_plans_from_the_log():
    log = OutcomeLog()
    key = "1.0.1:request:5"
    assert decide.telegram_plan(log.get(key)) == "do"
    log.apply(SideEffectIntent(idempotency_key=key, kind="telegram.send_request", issue_id="1", request_id="1.0.1",
                               recipient_user_id=5, recipient_chat_id=5, intended_at=T0))
    assert decide.telegram_plan(log.get(key)) == "redo_after_crash"
    assert [d.chat_id for d in log.deliveries("1.0.1")] == [5]
    log.apply(SideEffectOutcome(idempotency_key=key, kind="telegram.send_request", status="ok", issue_id="1",
                                request_id="1.0.1", recipient_user_id=5, recipient_chat_id=5, completed_at=T0,
                                telegram_message_id=44, details={"text": "hello"}))
    assert decide.telegram_plan(log.get(key)) == "skip"
    assert log.deliveries("1.0.1") == [decide.Delivery(5, 5, 44, "hello")]


@pytest.mark.parametrize(("status", "description", "expected"), [
    (429, "Too Many Requests: retry after 3", None),
    (400, "Bad Request: message is not modified: ...", "ok"),
    (403, "Forbidden: bot was blocked by the user", "undeliverable"),
    (400, "Bad Request: chat not found", "undeliverable"),
    (400, "Bad Request: can't parse entities", "failed"),
    (502, "Bad Gateway", None),
    (None, "connection reset", None),
])
def test_telegram_verdicts(status, description, expected):
    verdict = decide.telegram_verdict(status, description, 3)
    assert verdict.status == expected
    if status == 429:
        assert verdict.retry_after == 3


def test_okdesk_retryable_and_backoff():
    assert [decide.okdesk_retryable(s) for s in (None, 429, 500, 503, 400, 404, 422)] == [True] * 4 + [False] * 3
    rng = random.Random(7)
    waits = [decide.backoff(n, 1.0, 60.0, rng) for n in range(1, 12)]
    assert all(0.5 <= w <= 60 for w in waits) and max(waits) > 8


def test_okdesk_writes_and_reconciliation():
    rec = recorded(request(82), 1, message_id=None)
    comment, rate = okdesk_writes(rec, TEXTS, timezone="Europe/Moscow", native_rate=True)
    assert rate.details == {"rate": "bad"} and comment.key == f"{rec.request_id}:okdesk.comment"
    assert "⭐ Оценка клиента: <b>1 — Ужасно</b>" in comment.details["content"]
    assert "02.03.2026 12:30" in comment.details["content"]  # Moscow time
    assert len(okdesk_writes(rec, TEXTS, timezone="UTC", native_rate=False)) == 1
    assert reconciled(comment, comments=[{"id": 9, "content": "other"}]) is None
    found = reconciled(comment, comments=[{"id": 9, "content": "x " + comment.details["marker"]}])
    assert found.status == "ok" and found.comment_id == "9"
    assert reconciled(rate, issue={"rate": None}) is None
    assert reconciled(rate, issue={"rate": "bad"}).status == "ok"
    assert reconciled(rate, issue={"rate": "good"}).status == "failed"
    log = OutcomeLog()
    log.apply(SideEffectIntent(idempotency_key=rate.key, kind=rate.kind, issue_id="82", request_id=rec.request_id,
                               intended_at=T0, details=rate.details))
    assert write_of(log.pending("okdesk.")[0]) == rate


def test_okdesk_rate_scale():
    assert [render.okdesk_rate(s) for s in range(1, 6)] == ["bad", "bad", "normal", "good", "good"]


def test_old_callback_updates_are_not_answered():
    body = json.dumps({"update_id": 5, "callback_query": {"id": "q1", "from": {"id": 1, "language_code": "en"},
                                                          "data": "r:1.0.1:5"}}).encode()
    now = datetime.now(UTC)
    envelope = telegram_envelope(body, "polling", received_at=now - timedelta(seconds=2))
    assert press_to_answer(envelope, now, 10) == Press(query_id="q1", update_id=5, user_id=1, language="en",
                                                       request_id="1.0.1", received_at=envelope.received_at)
    assert press_to_answer(replace(envelope, received_at=now - timedelta(seconds=11)), now, 10) is None
    message = telegram_envelope(json.dumps({"update_id": 6, "message": {"chat": {"id": 1}}}).encode(), "polling")
    assert press_to_answer(message, now, 10) is None
    own = telegram_envelope(json.dumps({"update_id": 7, "callback_query": {"id": "q2", "from": {"id": 1},
                                                                           "data": "c:new_issue"}}).encode(), "polling")
    assert press_to_answer(own, now, 10).request_id is None  # a conversation button: answered at once


PRESS_ANSWERS = [  # (the decision, what the toast says, in Russian)
    (None, "Нажатие получено"),
    ("recorded:4", "Оценка ⭐⭐⭐⭐ (4) учтена. Спасибо!"),
    ("recorded:5", "Оценка ⭐⭐⭐⭐⭐ (5) учтена. Спасибо!"),
    ("already_rated:3", "Заявка уже оценена: ⭐⭐⭐ (3)."),
    ("already_rated", "Заявка уже оценена."),
    ("standing:2", "Заявка уже оценена: ⭐⭐ (2)."),
    ("not_yours", "Оценить заявку может только тот, кому адресован запрос."),
    ("expired", "Время для оценки этой заявки истекло."),
    ("reopened", "Заявка снова открыта — оценить её можно будет после нового решения."),  # the chat's words
    ("no_such_reason", "Эта оценка не учтена. Извините за неудобство."),
]


def _decision(spec: str | None):
    req = request(1700)
    if spec is None:
        return None
    kind, _, score = spec.partition(":")
    if kind == "recorded":
        return recorded(req, int(score), message_id=1)
    if kind == "standing":
        return Standing(user_id=501, update_id=1, score=int(score))
    return rejected(req, kind, message_id=1, update_id=2, standing=int(score) if score else None)


@pytest.mark.parametrize(("spec", "toast"), PRESS_ANSWERS)
def test_a_press_is_answered_with_what_was_decided(spec, toast):
    text = answer_text(_decision(spec), TEXTS, "ru")
    assert text == toast and len(text) <= 200


def test_the_neutral_word_promises_nothing():
    for locale in ("ru", "en"):
        word = TEXTS.get("press.received", locale).lower()
        assert not any(promise in word for promise in ("принят", "учт", "accepted", "taken", "спасибо", "thank"))


async def test_a_press_waits_for_its_own_decision_and_a_repeated_press_is_answered_from_memory():
    memory = PressDecisions()
    req = request(1701)
    first = asyncio.ensure_future(memory.wait(10, req.request_id, 501, timeout=5))
    other = asyncio.ensure_future(memory.wait(11, req.request_id, 999, timeout=0.05))  # a stranger's press
    await asyncio.sleep(0)
    assert not first.done()
    memory.note(recorded(req, 4, message_id=1, update_id=10))
    assert await first == recorded(req, 4, message_id=1, update_id=10)
    assert await other is None  # the stranger is not told the score: the streams decide for them
    # the same user presses again: answered at once, from what is known
    assert await memory.wait(12, req.request_id, 501, timeout=0) == Standing(501, 10, 4)
    # a decision that came before its press was reached is kept for it
    memory.note(rejected(req, "not_yours", message_id=1, update_id=13, user=777))
    assert (await memory.wait(13, req.request_id, 777, timeout=0)).reason == "not_yours"
    assert memory.waiting == 0


async def test_a_press_waiting_when_the_same_users_earlier_press_is_recorded_is_answered_then():
    memory = PressDecisions()
    req = request(1702)
    second = asyncio.ensure_future(memory.wait(21, req.request_id, 501, timeout=5))
    await asyncio.sleep(0)
    memory.note(recorded(req, 2, message_id=1, update_id=20))
    assert await second == Standing(501, 20, 2)


def test_the_press_memory_is_bounded():
    memory = PressDecisions(keep=3, keep_standing=2)
    for n in range(10):
        memory.note(recorded(request(1800 + n), 5, message_id=1, update_id=n))
    assert memory.known(0, None, None) is None and memory.known(9, None, None) is not None
    assert memory.known(99, request(1800).request_id, 501) is None
    assert memory.known(99, request(1809).request_id, 501) == Standing(501, 9, 5)


def test_texts_locales_and_overrides(tmp_path):
    assert TEXTS.get("press.received", TEXTS.locale_for("en")) == "Press received"
    assert TEXTS.locale_for(None) == "ru" and Texts.load("en").locale_for("ru") == "en"
    (tmp_path / "ru.json").write_text('{"press.received": "Записали"}', encoding="utf-8")
    custom = Texts.load("auto", tmp_path)
    assert custom.get("press.received") == "Записали" and custom.get("score.5") == "⭐⭐⭐⭐⭐ Отлично (5)"
    (tmp_path / "en.json").write_text('{\n"a": "b",\n}', encoding="utf-8")
    with pytest.raises(TextsError, match=r"en.json: line 3"):
        Texts.load("auto", tmp_path)


@given(st.lists(st.tuples(st.integers(0, 2), st.booleans()), max_size=60), st.randoms())
def test_offsets_committed_never_pass_an_unfinished_message(events, rnd):
    tracker = OffsetTracker()
    offsets: dict[int, int] = {}
    unfinished: set[tuple[int, int]] = set()
    for partition, finish_now in events:
        offset = offsets.get(partition, 0)
        offsets[partition] = offset + 1
        tracker.started(partition, offset)
        unfinished.add((partition, offset))
        if finish_now and unfinished:
            done = rnd.choice(sorted(unfinished))
            unfinished.discard(done)
            tracker.finished(*done)
        for p, position in tracker.positions().items():
            pending = [o for q, o in unfinished if q == p]
            assert position == (min(pending) if pending else offsets[p])
