"""Failed logins to the web views, limited per client address (streams.web.login_limit): tables."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from streams.web import login_limit
from streams.web.gate import SESSION_COOKIE, Gate, session_value
from streams.web.login_limit import LoginLimit, after_failure, retry_after, token_matches


@pytest.mark.parametrize(("failures", "now", "wait"), [
    ((), 100.0, None),
    ((10.0, 20.0), 100.0, None),  # two of three
    ((10.0, 20.0, 30.0), 100.0, 810),  # the oldest leaves the 15-minute window at 910
    ((10.0, 20.0, 30.0), 910.0, None),
    ((1.0, 2.0, 10.0, 20.0, 30.0), 100.0, 810),  # five: three must leave, the third oldest at 910
    ((10.0, 20.0, 30.0), 909.5, 1),  # never "Retry-After: 0"
])
def test_retry_after(failures, now, wait):
    assert retry_after(failures, now, 3, 900.0) == wait


def test_a_failure_keeps_only_the_window():
    assert after_failure((1.0, 500.0), 1000.0, 900.0) == (500.0, 1000.0)


def test_the_token_is_compared_whatever_its_length():
    assert token_matches("s3cret", "s3cret")
    assert not token_matches("s3cre", "s3cret")
    assert not token_matches("", "s3cret")
    assert not token_matches("s3cret" * 1000, "s3cret")


def test_memory_is_bounded_forgetting_the_least_recent(monkeypatch):
    monkeypatch.setattr(login_limit, "MAX_ADDRESSES", 2)
    limit = LoginLimit(1, 60.0)
    for address in ("a", "b", "c"):
        limit.failed(address, 1.0)
    assert list(limit.failures) == ["b", "c"]


class Request:
    def __init__(self, remote: str, authorization: str | None = None, cookie: str | None = None):
        self.remote = remote
        self.headers = CIMultiDict({"Authorization": authorization} if authorization else {})
        self.cookies = {SESSION_COOKIE: cookie} if cookie else {}


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_gate_limits_failures_per_address_and_a_right_token_waits_too():
    clock = Clock()
    gate = Gate("s3cret", LoginLimit(3, 900.0), clock=clock)
    attacker, colleague = "203.0.113.9", "198.51.100.7"
    assert gate.check(Request(attacker)) == (False, None)  # no credentials: no failure
    assert gate.login(Request(attacker), "guess-1") == (False, None)
    assert gate.check(Request(attacker, authorization="Bearer guess-2")) == (False, None)
    assert gate.check(Request(attacker, cookie="forged")) == (False, None)
    assert gate.login(Request(attacker), "s3cret") == (False, 900)  # limited: not even checked
    assert gate.check(Request(attacker, authorization="Bearer s3cret")) == (False, 900)
    assert gate.check(Request(colleague, authorization="Bearer s3cret")) == (True, None)  # others are not
    assert gate.check(Request(colleague, cookie=session_value("s3cret"))) == (True, None)
    clock.now += 900
    assert gate.login(Request(attacker), "s3cret") == (True, None)  # after the window


def test_without_a_token_the_gate_is_open_and_counts_nothing():
    gate = Gate(None, LoginLimit(1, 900.0))
    assert gate.check(Request("203.0.113.9", authorization="Bearer anything")) == (True, None)
    assert gate.limit.failures == {}
