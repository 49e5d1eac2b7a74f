"""`okrate sandbox`: both stand-ins in one process, seeded with a small help desk, and wired to
the ingest as Okdesk would be, so that a newcomer sees the whole loop after `make run`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sandbox.okdesk_api import create_okdesk_app
from sandbox.okdesk_state import OkdeskState
from sandbox.runner import serve
from sandbox.telegram_api import create_telegram_app
from sandbox.telegram_state import DEFAULT_TOKEN, TelegramState

log = logging.getLogger("okrate.sandbox")

DEMO_USER_ID = 1001  # the sandbox's Telegram user, linked to contact 95 at start


@dataclass(frozen=True)
class SandboxPorts:
    page: int

    @property
    def telegram(self) -> int:
        return self.page + 1

    @property
    def okdesk(self) -> int:
        return self.page + 2


def sandbox_env(host: str, ports: SandboxPorts, okdesk: OkdeskState | None = None) -> dict[str, str]:
    """What the other services need to talk to the stand-ins instead of the real services."""
    return {
        "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
        "TELEGRAM_API_URL": f"http://{host}:{ports.telegram}",
        "OKDESK_API_URL": f"http://{host}:{ports.okdesk}/api/v1/",
        "OKDESK_API_TOKEN": (okdesk or OkdeskState()).api_token,
        "OKDESK_PORTAL_URL": f"http://{host}:{ports.page}/okdesk",
        "OKDESK_AUTHOR_ID": "1",
    }


def seed(okdesk: OkdeskState, telegram: TelegramState) -> None:
    company = okdesk.add_company("ООО «Ромашка»", id=147)
    okdesk.add_contact("Иван", "Петров", phone="+7 916 123-45-67", company_id=company.id, id=95)
    okdesk.add_contact("Мария", "Сидорова", phone="+7 903 765-43-21", company_id=company.id, id=96)
    engineer = okdesk.add_employee("Алексей", "Смирнов", group_id=1, id=2)
    okdesk.add_issue("Принтер <HP> не печатает & мигает", contact_id=95, assignee_id=engineer.id, id=1380)
    okdesk.add_issue("Нет доступа к почте", contact_id=95, assignee_id=engineer.id, id=1381)
    okdesk.add_issue("Медленно работает 1С", contact_id=96, assignee_id=engineer.id, id=1382)
    telegram.user(DEMO_USER_ID, "Иван", last_name="Петров", phone_number="79161234567")


async def run_sandbox(host: str, ports: SandboxPorts, webhook_url: str, webhook_secret: str | None,
                      dialect: str = "okdesk", admin_token: str | None = None) -> None:
    okdesk, telegram = OkdeskState(), TelegramState()
    seed(okdesk, telegram)
    okdesk.add_webhook_target(webhook_url, dialect=dialect, secret=webhook_secret)  # type: ignore[arg-type]
    from sandbox.page import create_page_app

    log.info("sandbox: page http://%s:%d/  Bot API http://%s:%d  Okdesk http://%s:%d/api/v1/",
             host, ports.page, host, ports.telegram, host, ports.okdesk)
    await asyncio.gather(
        serve(create_telegram_app(telegram), host, ports.telegram),
        serve(create_okdesk_app(okdesk), host, ports.okdesk),
        serve(create_page_app(telegram, okdesk, webhook_url, admin_token), host, ports.page),
    )
