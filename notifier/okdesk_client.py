"""A small Okdesk REST API v1 client (aiohttp). The api_token travels as a query parameter, so
every URL that is logged goes through `mask_url`."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp

from okrate.redact import mask_url

log = logging.getLogger("okrate.notifier.okdesk")


class OkdeskError(Exception):
    """A failed call. `status` is None when no answer came (timeout, connection refused)."""

    def __init__(self, status: int | None, errors: str, retry_after: float | None = None):
        super().__init__(f"{status or 'no answer'}: {errors}")
        self.status = status
        self.errors = errors
        self.retry_after = retry_after


def errors_text(body: Any, fallback: str) -> str:
    """Okdesk's `{"errors": ...}` as one line of text."""
    if isinstance(body, dict) and "errors" in body:
        errors = body["errors"]
        if isinstance(errors, dict):
            return "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in errors.items())
        return str(errors)
    return fallback[:300]


class OkdeskClient:
    def __init__(self, api_url: str, api_token: str | None, *, timeout: float = 15.0):
        self.base = api_url.rstrip("/") + "/"
        self.token = api_token or ""
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                      params: dict[str, str] | None = None) -> Any:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        url = self.base + path.lstrip("/")
        shown = mask_url(f"{url}?api_token={self.token}")
        try:
            async with self._session.request(method, url, params={**(params or {}), "api_token": self.token},
                                             json=body) as resp:
                text = await resp.text()
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("okdesk %s %s: no answer (%s)", method, shown, type(exc).__name__)
            raise OkdeskError(None, f"{type(exc).__name__}: {mask_url(str(exc))}") from None
        try:
            data = json.loads(text) if text else None
        except json.JSONDecodeError:
            data = None
        if 200 <= status < 300:
            log.debug("okdesk %s %s: %d", method, shown, status)
            return data
        log.warning("okdesk %s %s: %d", method, shown, status)
        try:
            wait = float(retry_after) if retry_after else None
        except ValueError:
            wait = None
        raise OkdeskError(status, errors_text(data, text), wait)

    async def add_comment(self, issue_id: str, content: str, *, author_id: int | None, public: bool) -> dict[str, Any]:
        comment: dict[str, Any] = {"content": content, "author_type": "employee", "public": public}
        if author_id is not None:
            comment["author_id"] = author_id
        return await self.request("POST", f"issues/{issue_id}/comments", {"comment": comment})

    async def list_comments(self, issue_id: str) -> list[dict[str, Any]]:
        result = await self.request("GET", f"issues/{issue_id}/comments")
        return result if isinstance(result, list) else []

    async def get_issue(self, issue_id: str) -> dict[str, Any]:
        result = await self.request("GET", f"issues/{issue_id}")
        return result if isinstance(result, dict) else {}

    async def rate_issue(self, issue_id: str, rate: str) -> dict[str, Any]:
        return await self.request("POST", f"issues/{issue_id}/rates", {"rate": rate})

    async def find_contacts(self, phone: str) -> list[dict[str, Any]]:
        """Contacts with this phone: the stand-in answers one object (or 404), real Okdesk may
        answer a list; both become a list (404: none)."""
        try:
            result = await self.request("GET", "contacts/", params={"phone": phone})
        except OkdeskError as exc:
            if exc.status == 404:
                return []
            raise
        if isinstance(result, list):
            return [c for c in result if isinstance(c, dict) and c.get("id") is not None]
        if isinstance(result, dict) and result.get("id") is not None:
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

    async def list_issues(self, contact_id: str) -> list[dict[str, Any]]:
        result = await self.request("GET", "issues/list", params={"contact_ids[]": str(contact_id)})
        return [i for i in result if isinstance(i, dict)] if isinstance(result, list) else []
