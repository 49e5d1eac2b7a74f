"""A small Okdesk REST API v1 client (aiohttp). The api_token travels as a query parameter, so
every URL that is logged goes through `mask_url`.

Shapes it meets (see the README's "Okdesk API as okrate reads it"): `rate` is an object
(`{"id": .., "value": ..}`) in `GET /issues/{id}` and a string in webhooks; `/issues/list` is
paged (`page[number]` from 1, `page[size]` at most 100) and sortable; errors are
`{"errors": ...}` with lists, strings or nested objects, or not JSON at all (a proxy's page).
Any field of any answer may be missing or null.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from yarl import URL

from base.redact import mask_url

log = logging.getLogger("okrate.notifier.okdesk")

PAGE_SIZE_MAX = 100  # Okdesk: "page.size: должно быть меньше или равно 100"
RATE_FORMS = ("flat", "wrapped")  # {"rate": ..} (documented), {"issue": {"rate": ..}}
_MAX_LINE = 300
Params = Mapping[str, str | Sequence[str]]


class OkdeskError(Exception):
    """A failed call. `status` is None when no answer came (timeout, connection refused);
    `errors` is one readable line; `fields` the top-level field names Okdesk's errors named."""

    def __init__(self, status: int | None, errors: str, retry_after: float | None = None,
                 fields: frozenset[str] = frozenset()):
        super().__init__(f"{status or 'no answer'}: {errors}")
        self.status = status
        self.errors = errors
        self.retry_after = retry_after
        self.fields = fields


def _flatten(errors: Any, prefix: str = "") -> list[str]:
    """`{"page": {"size": ["..."]}}` → `["page.size: ..."]`, as apepenkov/okdesk_api does."""
    if isinstance(errors, dict):
        lines = []
        for key, value in errors.items():
            lines += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return lines
    if isinstance(errors, list):
        if all(not isinstance(v, dict | list) for v in errors):
            text = ", ".join(str(v) for v in errors if v is not None)
            return [f"{prefix}: {text}" if prefix else text] if text else []
        return [line for v in errors for line in _flatten(v, prefix)]
    if errors is None:
        return []
    return [f"{prefix}: {errors}" if prefix else str(errors)]


def _one_line(text: str, limit: int = _MAX_LINE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def errors_text(body: Any, text: str, status: int | None = None, content_type: str | None = None) -> str:
    """Okdesk's `{"errors": ...}`, or whatever else came (an HTML page, plain text, nothing),
    as one readable line."""
    if isinstance(body, dict) and body.get("errors") not in (None, "", [], {}):
        return _one_line("; ".join(_flatten(body["errors"])) or "errors")
    if isinstance(body, dict | list):
        return _one_line(f"HTTP {status}: {json.dumps(body, ensure_ascii=False)}")
    title = re.search(r"<title[^>]*>(.*?)</title>", text or "", re.IGNORECASE | re.DOTALL)
    if title:
        shown = html.unescape(title.group(1))
    else:
        shown = html.unescape(re.sub(r"<[^>]+>", " ", text or "")) or "an empty answer"
    kind = (content_type or "").split(";")[0].strip() or "no content type"
    return _one_line(f"HTTP {status}: {_one_line(shown, 200)} ({kind}, not JSON)")


def error_fields(body: Any) -> frozenset[str]:
    errors = body.get("errors") if isinstance(body, dict) else None
    return frozenset(str(k) for k in errors) if isinstance(errors, dict) else frozenset()


def rate_value(rate: Any) -> str | None:
    """Okdesk's rate of an issue, whichever shape it came in: `{"id": 3, "value": "normal"}`
    (`GET /issues/{id}`), `"normal"` (webhooks), null."""
    if isinstance(rate, dict):
        rate = rate.get("value")
    return rate.strip().lower() or None if isinstance(rate, str) else None


def as_id(value: Any) -> str | None:
    """An id as okrate keeps it (a string), from a number or a string; None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def query_string(params: Params) -> str:
    """`+` as %2B and spaces as %20 (a `+` left bare would arrive as a space); `[]` kept."""
    return urlencode([(k, v) for k, vs in params.items() for v in ([vs] if isinstance(vs, str) else vs)],
                     quote_via=quote, safe="[]")


@dataclass(frozen=True)
class Answer:
    data: Any  # the JSON, or None
    text: str  # the answer as sent


def json_items(text: str) -> list[str]:
    """The texts of a JSON array's elements, each exactly as it appears in `text` (what the
    sweep keeps byte for byte); [] for anything that is not an array."""
    decoder = json.JSONDecoder()
    at = _skip(text, 0)
    if at >= len(text) or text[at] != "[":
        return []
    items, at = [], _skip(text, at + 1)
    while at < len(text) and text[at] != "]":
        _, end = decoder.raw_decode(text, at)
        items.append(text[at:end])
        at = _skip(text, end)
        if at < len(text) and text[at] == ",":
            at = _skip(text, at + 1)
    return items


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


class OkdeskClient:
    def __init__(self, api_url: str, api_token: str | None, *, timeout: float = 15.0,
                 page_size: int = PAGE_SIZE_MAX):
        self.base = api_url.rstrip("/") + "/"
        self.token = api_token or ""
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.page_size = max(1, min(page_size, PAGE_SIZE_MAX))
        self.rate_form = RATE_FORMS[0]
        self._rate_form_known = False
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None,
                   params: Params | None = None) -> Answer:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        query = query_string({**(params or {}), "api_token": self.token})
        url = f"{self.base}{path.lstrip('/')}?{query}"
        shown = mask_url(url)
        try:
            async with self._session.request(method, URL(url, encoded=True), json=body) as resp:
                text = await resp.text(errors="replace")
                status, content_type = resp.status, resp.headers.get("Content-Type")
                retry_after = resp.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("okdesk %s %s: no answer (%s)", method, shown, type(exc).__name__)
            raise OkdeskError(None, _one_line(f"{type(exc).__name__}: {mask_url(str(exc))}")) from None
        try:
            data = json.loads(text) if text.strip() else None
        except json.JSONDecodeError:
            data = None
        if 200 <= status < 300:
            log.debug("okdesk %s %s: %d", method, shown, status)
            return Answer(data, text)
        line = errors_text(data, text, status, content_type)
        log.warning("okdesk %s %s: %d %s", method, shown, status, line)
        try:
            wait = float(retry_after) if retry_after else None
        except ValueError:
            wait = None
        raise OkdeskError(status, line, wait, error_fields(data))

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                      params: Params | None = None) -> Any:
        return (await self.call(method, path, body, params)).data

    async def add_comment(self, issue_id: str, content: str, *, author_id: int, public: bool) -> dict[str, Any]:
        """`author_id` is required by Okdesk (422 without it): OKDESK_AUTHOR_ID."""
        comment = {"content": content, "author_id": author_id, "author_type": "employee", "public": public}
        result = await self.request("POST", f"issues/{issue_id}/comments", {"comment": comment})
        return result if isinstance(result, dict) else {}

    async def list_comments(self, issue_id: str) -> list[dict[str, Any]]:
        result = await self.request("GET", f"issues/{issue_id}/comments")
        return [c for c in result if isinstance(c, dict)] if isinstance(result, list) else []

    async def get_issue(self, issue_id: str) -> dict[str, Any]:
        result = await self.request("GET", f"issues/{issue_id}")
        return result if isinstance(result, dict) else {}

    async def rate_issue(self, issue_id: str, rate: str) -> dict[str, Any]:
        """Okdesk documents `{"rate": ..}`; a client in the wild sends `{"issue": {"rate": ..}}`.
        Until one form has worked, a 422 naming `rate` is tried once in the other form; the form
        that works is kept (and said once in the log)."""
        try:
            result = await self.request("POST", f"issues/{issue_id}/rates", _rate_body(self.rate_form, rate))
        except OkdeskError as exc:
            if self._rate_form_known or exc.status != 422 or "rate" not in exc.fields:
                raise
            other = RATE_FORMS[1 - RATE_FORMS.index(self.rate_form)]
            try:
                result = await self.request("POST", f"issues/{issue_id}/rates", _rate_body(other, rate))
            except OkdeskError:
                raise exc from None  # the other form does no better: the first answer stands
            log.warning("Okdesk refused the rate as %s (%s) and took it as %s: using that form from now on",
                        json.dumps(_rate_body(self.rate_form, "…"), ensure_ascii=False), exc.errors,
                        json.dumps(_rate_body(other, "…"), ensure_ascii=False))
            self.rate_form = other
        self._rate_form_known = True
        return result if isinstance(result, dict) else {}

    async def find_contacts(self, phone: str) -> list[dict[str, Any]]:
        """Contacts with this phone (sent as `%2B7...`): the stand-in answers one object (or
        404), real Okdesk may answer a list; both become a list (404: none)."""
        try:
            result = await self.request("GET", "contacts/", params={"phone": phone})
        except OkdeskError as exc:
            if exc.status == 404:
                return []
            raise
        if isinstance(result, list):
            return [c for c in result if isinstance(c, dict) and as_id(c.get("id")) is not None]
        if isinstance(result, dict) and as_id(result.get("id")) is not None:
            return [result]
        return []

    async def get_contact(self, contact_id: str) -> dict[str, Any] | None:
        try:
            result = await self.request("GET", "contacts/", params={"id": str(contact_id)})
        except OkdeskError as exc:
            if exc.status == 404:
                return None
            raise
        if isinstance(result, list):
            result = result[0] if result else None
        return result if isinstance(result, dict) else None

    async def create_issue(self, fields: dict[str, Any]) -> dict[str, Any]:
        result = await self.request("POST", "issues/", {"issue": fields})
        return result if isinstance(result, dict) else {}

    def page_params(self, filters: Params, *, sort_field: str, direction: str, number: int) -> dict[str, Any]:
        return {**filters, "sorting[field]": sort_field, "sorting[direction]": direction,
                "page[number]": str(number), "page[size]": str(self.page_size)}

    async def issue_page(self, filters: Params, *, sort_field: str, direction: str, number: int) -> Answer:
        """One page of `/issues/list` (numbered from 1)."""
        params = self.page_params(filters, sort_field=sort_field, direction=direction, number=number)
        return await self.call("GET", "issues/list", params=params)

    async def issue_pages(self, filters: Params, *, sort_field: str, direction: str = "reverse",
                          start: int = 1, max_pages: int | None = None,
                          ) -> AsyncIterator[tuple[int, Answer, list[dict[str, Any]]]]:
        """`/issues/list` page after page from `start` (sorted: `reverse` is newest first), until
        a page comes back short or empty: (page number, the answer, its issues that are objects)."""
        number = start
        while max_pages is None or number < start + max_pages:
            answer = await self.issue_page(filters, sort_field=sort_field, direction=direction, number=number)
            found = answer.data if isinstance(answer.data, list) else []
            yield number, answer, [i for i in found if isinstance(i, dict)]
            if len(found) < self.page_size:
                return
            number += 1


def _rate_body(form: str, rate: str) -> dict[str, Any]:
    return {"rate": rate} if form == "flat" else {"issue": {"rate": rate}}
