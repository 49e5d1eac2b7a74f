"""`okrate run`'s supervisor: a child that dies is restarted with backoff; stop ends them all."""

from __future__ import annotations

import asyncio
import sys

import pytest

from base.settings import load_settings
from okrate import supervisor
from okrate.run_plan import plan_children
from okrate.supervisor import Child, Supervisor, next_backoff


def test_backoff_doubles_up_to_a_ceiling_and_resets_after_a_healthy_run():
    assert next_backoff(1, 0.5) == 2
    assert next_backoff(16, 0.5) == 30
    assert next_backoff(30, 0.5) == 30
    assert next_backoff(30, 120) == supervisor.BACKOFF_START_S


async def test_a_dying_child_is_restarted_and_stop_ends_every_child(monkeypatch):
    monkeypatch.setattr(supervisor, "BACKOFF_START_S", 0.05)
    dying = Child("dying", [sys.executable, "-c", "import sys; sys.exit(3)"])
    steady = Child("steady", [sys.executable, "-c", "import time; time.sleep(60)"])
    group = Supervisor([dying, steady])
    running = asyncio.create_task(group.run())
    for _ in range(100):
        if dying.restarts >= 2 and steady.process is not None:
            break
        await asyncio.sleep(0.05)
    assert dying.restarts >= 2
    await group.stop()
    await asyncio.wait_for(running, 10)
    assert steady.process.returncode is not None
    assert steady.restarts == 0


@pytest.mark.parametrize(("env", "sandbox"), [({}, True), ({"telegram_bot_token": "1:" + "a" * 30, "okdesk_api_url": "http://o/api/v1/", "okdesk_api_token": "t"}, False)])
def test_the_plan_adds_the_stand_ins_only_in_sandbox_mode(env, sandbox):
    settings = load_settings(_env_file=None, **env)
    names = [c.name for c in plan_children(settings, "127.0.0.1:9092")]
    assert names == (["sandbox"] if sandbox else []) + ["ingest", "streams", "notifier"]
    if sandbox:
        ingest = plan_children(settings, "127.0.0.1:9092")[1]
        assert ingest.env["TELEGRAM_API_URL"].startswith("http://127.0.0.1:")
        assert ingest.env["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:9092"


def test_half_configuration_names_what_is_missing():
    only_telegram = load_settings(_env_file=None, telegram_bot_token="1:" + "a" * 30)
    assert "OKDESK_API_URL" in only_telegram.half_configured()
    only_okdesk = load_settings(_env_file=None, okdesk_api_url="https://acme.okdesk.ru/api/v1/", okdesk_api_token="t")
    assert "TELEGRAM_BOT_TOKEN" in only_okdesk.half_configured()
    assert load_settings(_env_file=None).half_configured() is None
