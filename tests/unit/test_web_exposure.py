"""Where the streams worker's web views listen (streams.exposure): a table."""

from __future__ import annotations

import pytest

from base.settings import load_settings
from streams.exposure import web_exposure

PRODUCTION = {"telegram_bot_token": "123456:" + "A" * 35, "okdesk_api_url": "https://acme.okdesk.ru/api/v1/",
              "okdesk_api_token": "t"}


@pytest.mark.parametrize(("env", "host"), [
    (PRODUCTION, "127.0.0.1"),  # forgot ADMIN_TOKEN: the host itself only
    ({**PRODUCTION, "admin_token": "s3cret"}, "0.0.0.0"),  # guarded: every address
    ({}, "127.0.0.1"),  # sandbox mode: like its page, the host itself only
    ({"admin_token": "s3cret"}, "0.0.0.0"),
])
def test_the_web_views_leave_the_host_only_behind_the_admin_token(env, host):
    exposure = web_exposure(load_settings(_env_file=None, **env))
    assert exposure.host == host
    assert "ADMIN_TOKEN" in exposure.why  # the start's log line names the variable
