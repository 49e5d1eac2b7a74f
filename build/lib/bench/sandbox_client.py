"""The stand-ins of a sandbox-mode `okrate run`, driven over their `/_sandbox/` HTTP endpoints:
seed contacts and issues, resolve an issue (the Okdesk stand-in posts the webhook), press a
button as the chat's user, read what each stand-in recorded (calls with their arrival time on
the stand-in's clock, `time.time()`, webhook deliveries, issues with comments and rate)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import aiohttp

RATING_PREFIX = "r:"


class SandboxClient:
    def __init__(self, session: aiohttp.ClientSession, okdesk: str, telegram: str):
        self.http, self.okdesk, self.telegram = session, okdesk, telegram

    async def _json(self, method: str, url: str, body: Any = None, timeout: float = 60.0) -> tuple[int, Any]:
        async with self.http.request(method, url, json=body, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text

    async def _ok(self, method: str, url: str, body: Any = None, timeout: float = 60.0) -> Any:
        status, data = await self._json(method, url, body, timeout)
        if status != 200:
            raise RuntimeError(f"{method} {url} answered {status}: {str(data)[:300]}")
        return data

    # -- seeding ---------------------------------------------------------------------------------

    async def add_contact(self, first_name: str, last_name: str, company_id: int | None = 147) -> int:
        data = await self._ok("POST", f"{self.okdesk}/_sandbox/contacts",
                              {"first_name": first_name, "last_name": last_name, "company_id": company_id})
        return int(data["id"])

    async def add_issue(self, title: str, contact_id: int) -> int:
        data = await self._ok("POST", f"{self.okdesk}/_sandbox/issues", {"title": title, "contact_id": contact_id})
        return int(data["id"])

    async def add_user(self, user_id: int, first_name: str) -> None:
        await self._ok("POST", f"{self.telegram}/_sandbox/users", {"id": user_id, "first_name": first_name})

    # -- acting ------------------------------------------------------------------------------------

    async def change_status(self, issue_id: int, status: str) -> list[dict[str, Any]]:
        """The service desk moves the issue; the stand-in posts the webhook and tells how it went."""
        data = await self._ok("POST", f"{self.okdesk}/_sandbox/issues/{issue_id}/status", {"status": status}, timeout=30)
        return data["deliveries"]

    async def chat(self, chat_id: int) -> dict[str, Any] | None:
        status, data = await self._json("GET", f"{self.telegram}/_sandbox/chats/{chat_id}")
        return data if status == 200 else None

    async def press(self, user_id: int, message_id: int, data: str) -> tuple[int, Any]:
        return await self._json("POST", f"{self.telegram}/_sandbox/users/{user_id}/press",
                                {"message_id": message_id, "data": data})

    # -- what the stand-ins recorded -------------------------------------------------------------

    async def telegram_calls(self, method: str | None = None) -> list[dict[str, Any]]:
        query = f"?method={method}" if method else ""
        return (await self._ok("GET", f"{self.telegram}/_sandbox/calls{query}", timeout=120))["calls"]

    async def okdesk_calls(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        query = f"?endpoint={endpoint}" if endpoint else ""
        return (await self._ok("GET", f"{self.okdesk}/_sandbox/calls{query}", timeout=120))["calls"]

    async def webhook_deliveries(self) -> list[dict[str, Any]]:
        return (await self._ok("GET", f"{self.okdesk}/_sandbox/webhooks", timeout=120))["deliveries"]

    async def issues(self) -> list[dict[str, Any]]:
        return (await self._ok("GET", f"{self.okdesk}/_sandbox/issues", timeout=120))["issues"]


def rating_buttons(message: dict[str, Any]) -> list[str]:
    """The callback data of a message's rating buttons (`r:<request id>:<score>`)."""
    return [b["callback_data"] for row in message.get("buttons") or [] for b in row
            if str(b.get("callback_data") or "").startswith(RATING_PREFIX)]


def request_id_of(call_params: dict[str, Any]) -> str | None:
    """The request id a sendMessage call asks to rate, from its inline keyboard (None: no rating buttons)."""
    markup = call_params.get("reply_markup")
    if isinstance(markup, str):
        try:
            markup = json.loads(markup)
        except ValueError:
            return None
    if not isinstance(markup, dict):
        return None
    for row in markup.get("inline_keyboard") or []:
        for button in row:
            data = str(button.get("callback_data") or "")
            if data.startswith(RATING_PREFIX):
                return data[len(RATING_PREFIX):].rsplit(":", 1)[0]
    return None


def issue_of_request(request_id: str) -> str:
    """A request id is `<issue>.<partition>.<offset>` of the webhook that triggered it."""
    return request_id.rsplit(".", 2)[0]


async def bounded(limit: int, jobs: Iterable[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """Runs the jobs with at most `limit` at a time; results in order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await job()

    return list(await asyncio.gather(*(one(j) for j in jobs)))
