from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from sandbox.clock import FakeClock
from sandbox.okdesk_api import RunningOkdesk, running_okdesk
from sandbox.okdesk_state import OkdeskState
from sandbox.telegram_api import RunningTelegram, running_telegram
from sandbox.telegram_state import TelegramState


class QuickSession(AiohttpSession):
    """aiogram's session without the 250 ms pause it takes on close (keeps tests fast)."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(tg: RunningTelegram, token: str | None = None) -> Bot:
    return Bot(
        token or tg.token, session=QuickSession(api=TelegramAPIServer.from_base(tg.base_url))
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tg_state(clock: FakeClock) -> TelegramState:
    return TelegramState(clock=clock, webhook_retry_delay=0.05)


@pytest.fixture
async def tg(tg_state: TelegramState) -> AsyncIterator[RunningTelegram]:
    async with running_telegram(tg_state) as running:
        yield running


@pytest.fixture
async def bot(tg: RunningTelegram) -> AsyncIterator[Bot]:
    bot = make_bot(tg)
    try:
        yield bot
    finally:
        await bot.session.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def ok_state(clock: FakeClock) -> OkdeskState:
    return OkdeskState(clock=clock)


@pytest.fixture
async def okdesk(ok_state: OkdeskState) -> AsyncIterator[RunningOkdesk]:
    async with running_okdesk(ok_state) as running:
        yield running
