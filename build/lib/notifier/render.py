"""What each message looks like: pure functions from records to text and keyboard.

Everything that comes from Okdesk (title, status name, ids) is HTML-escaped for Telegram's HTML
parse mode, so a title with `<` or `&` cannot make Telegram reject the message.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from notifier.locale import Texts
from schemas.callback_data import NEW_ISSUE, rating_data, reason_data
from schemas.records import RatingRecorded, RatingRejected, RatingRequested, ReasonRecorded

SCORES = (5, 4, 3, 2, 1)  # the seed's order: best first
# The «Создать новую заявку» button. Its flow comes with Notifier IV; the data is deliberately
# outside the rating contract (schemas.callback_data), see the report on schemas.
NEW_ISSUE_DATA = NEW_ISSUE


@dataclass(frozen=True)
class Button:
    text: str
    data: str


@dataclass(frozen=True)
class Message:
    text: str
    keyboard: tuple[tuple[Button, ...], ...] = ()  # inline buttons
    contact_button: str | None = None  # a reply keyboard with one «share my phone» button
    remove_keyboard: bool = False  # removes the reply keyboard the user sees


def esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def stars(score: int) -> str:
    return "⭐" * max(0, min(int(score), 5))


def issue_url(portal_url: str | None, issue_id: str) -> str | None:
    if not portal_url:
        return None
    return f"{portal_url.rstrip('/')}/issues/{issue_id}"


def rating_keyboard(texts: Texts, locale: str, request_id: str) -> tuple[tuple[Button, ...], ...]:
    return tuple((Button(texts.get(f"score.{s}", locale), rating_data(request_id, s)),) for s in SCORES)


def request_message(req: RatingRequested, texts: Texts, locale: str, portal_url: str | None) -> Message:
    url = issue_url(portal_url, req.issue_id)
    link = texts.get("request.link", locale, url=html.escape(url, quote=True)) if url else ""
    text = texts.get(
        "request.text", locale,
        issue_id=esc(req.issue_id),
        title=esc(req.title) if req.title else texts.get("request.no_title", locale),
        status=esc(req.status_name or req.status_code or texts.get("request.no_status", locale)),
        link=link,
    )
    return Message(text, rating_keyboard(texts, locale, req.request_id))


def reminder_message(issue_id: str, texts: Texts, locale: str) -> Message:
    return Message(texts.get("reminder.text", locale, issue_id=esc(issue_id)))


def closing_note(kind: str, reason: str | None, texts: Texts, locale: str) -> str:
    """The line an expired or closed request's message gets (its buttons go away)."""
    if kind == "expired":
        return texts.get("edit.expired", locale)
    key = f"edit.closed.{reason}"
    return texts.get(key if key in texts.tables[locale] else "edit.closed.other", locale)


def recorded_note(score: int, texts: Texts, locale: str) -> str:
    label = texts.get(f"okdesk.label.{score}", locale) if 1 <= score <= 5 else ""
    return texts.get("edit.recorded", locale, stars=stars(score), label=label, score=score)


def edited_text(original: str | None, note: str, fallback_title: str | None, issue_id: str) -> str:
    """The request message with a note below it; its buttons are removed by the edit."""
    if original:
        return f"{original}\n\n{note}"
    head = f"<b>№{esc(issue_id)}</b>" + (f": {esc(fallback_title)}" if fallback_title else "")
    return f"{head}\n\n{note}"


def thanks_message(texts: Texts, locale: str) -> Message:
    return Message(texts.get("thanks.text", locale),
                   ((Button(texts.get("button.new_issue", locale), NEW_ISSUE_DATA),),))


def rejection_message(rej: RatingRejected, texts: Texts, locale: str) -> Message:
    reason = rej.reason
    if reason == "already_rated":
        if rej.standing_score:
            return Message(texts.get("rejected.already_rated", locale,
                                     stars=stars(rej.standing_score), score=rej.standing_score))
        return Message(texts.get("rejected.already_rated_unknown", locale))
    key = f"rejected.{reason}"
    return Message(texts.get(key if key in texts.tables[locale] else "rejected.other", locale))


OKDESK_RATES = {1: "bad", 2: "bad", 3: "normal", 4: "good", 5: "good"}


def okdesk_rate(score: int) -> str:
    """Okdesk's own 3-point scale: 1–2 bad, 3 normal, 4–5 good."""
    return OKDESK_RATES[score]


def comment_marker(request_id: str) -> str:
    """Put in every rating comment; after a crash okrate finds its comment by it."""
    return f"[okrate:{request_id}]"


def okdesk_comment(rec: RatingRecorded, texts: Texts, locale: str, timezone: str) -> str:
    when = rec.pressed_at.astimezone(ZoneInfo(timezone)) if isinstance(rec.pressed_at, datetime) else rec.pressed_at
    contact = texts.get("okdesk.comment.contact", locale, contact_id=esc(rec.contact_id)) if rec.contact_id else ""
    return texts.get(
        "okdesk.comment", locale,
        stars=stars(rec.score), score=rec.score, label=texts.get(f"okdesk.label.{rec.score}", locale),
        user_id=rec.from_user_id, contact=contact, when=f"{when:%d.%m.%Y %H:%M}",
        marker=comment_marker(rec.request_id),
    )


# -- Notifier III–IV: conversations, reasons, alerts ------------------------------------------

REASON_SKIP = "c:reason_skip"
CANCEL = "c:cancel"


def support_hint(texts: Texts, locale: str, portal_url: str | None) -> str:
    """How to reach the service desk (said whenever the bot cannot help by itself)."""
    hint = texts.get("support.contact", locale)
    if portal_url:
        hint += texts.get("support.portal", locale, url=esc(portal_url))
    return hint


def reason_question(request_id: str, reasons: tuple[str, ...], texts: Texts, locale: str) -> Message:
    rows = tuple((Button(texts.reason_label(r, locale), reason_data(request_id, i)),) for i, r in enumerate(reasons))
    return Message(texts.get("reasons.question", locale),
                   (*rows, (Button(texts.get("button.reason_skip", locale), REASON_SKIP),)))


def reason_thanks(rec: ReasonRecorded, texts: Texts, locale: str) -> Message:
    if rec.reason_code is None:
        return Message(texts.get("reasons.thanks_text", locale))
    return Message(texts.get("reasons.thanks", locale, reason=esc(texts.reason_label(rec.reason_code, locale))))


def reason_marker(request_id: str, code: str) -> str:
    return f"[okrate:{request_id}:reason:{code}]"


def okdesk_reason_comment(rec: ReasonRecorded, texts: Texts, locale: str) -> str:
    code = rec.reason_code or "text"
    marker = esc(reason_marker(rec.request_id, code))
    if rec.reason_code is None:
        text = esc(rec.text or "").replace("\n", "<br>")
        return texts.get("okdesk.reason_text_comment", locale, score=rec.score, text=text, marker=marker)
    return texts.get("okdesk.reason_comment", locale, score=rec.score,
                     reason=esc(texts.reason_label(rec.reason_code, locale)), marker=marker)


def new_issue_marker(update_id: int) -> str:
    """Put in the description of an issue created from the bot; after a crash okrate finds it."""
    return f"[okrate:new:{update_id}]"


def split_issue_text(text: str, default_title: str, max_title: int = 120) -> tuple[str, str]:
    """(title, description) from the user's message: a first line followed by more lines is the
    title; a single line is the description, and its beginning the title."""
    text = text.strip()
    first, _, rest = text.partition("\n")
    if rest.strip():
        title, description = first.strip(), rest.strip()
    else:
        title, description = first.strip(), text
    if len(title) > max_title:
        cut = title[:max_title].rsplit(" ", 1)[0] or title[:max_title]
        title = cut.rstrip(" ,.;:") + "…"
    return title or default_title, description


def okdesk_new_issue_description(text: str, user_id: int, marker: str, texts: Texts, locale: str) -> str:
    return texts.get("okdesk.new_issue.description", locale, text=esc(text).replace("\n", "<br>"),
                     user_id=user_id, marker=esc(marker))


def new_issue_created(issue_id: str, title: str, texts: Texts, locale: str, portal_url: str | None) -> Message:
    url = issue_url(portal_url, issue_id)
    link = texts.get("new.link", locale, url=html.escape(url, quote=True)) if url else ""
    return Message(texts.get("new.created", locale, issue_id=esc(issue_id), title=esc(title), link=link))


def alert_text(rec: RatingRecorded, texts: Texts, locale: str, portal_url: str | None) -> str:
    url = issue_url(portal_url, rec.issue_id)
    company = rec.company_name or (f"№{rec.company_id}" if rec.company_id else None)
    assignee = rec.assignee_employee_name or rec.assignee_group_name
    return texts.get(
        "alert.rating", locale, stars=stars(rec.score), score=rec.score, issue_id=esc(rec.issue_id),
        title=esc(rec.title) if rec.title else texts.get("request.no_title", locale),
        company=texts.get("alert.company", locale, company=esc(company)) if company else "",
        assignee=texts.get("alert.assignee", locale, assignee=esc(assignee)) if assignee else "",
        link=texts.get("alert.link", locale, url=html.escape(url, quote=True), issue_id=esc(rec.issue_id)) if url else "",
    )


def alert_reason_text(rec: ReasonRecorded, texts: Texts, locale: str) -> str:
    if rec.reason_code is None:
        reason = texts.get("alert.text_reason", locale, text=esc((rec.text or "")[:500]))
    else:
        reason = esc(texts.reason_label(rec.reason_code, locale))
    return texts.get("alert.reason", locale, issue_id=esc(rec.issue_id), score=rec.score, reason=reason)
