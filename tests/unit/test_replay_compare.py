"""What a reprocess is judged by: the same decisions give no change, whatever their timing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from okrate.replay import compare, decisions
from schemas.records import RatingClosed, RatingRequested

T0 = datetime(2026, 11, 27, tzinfo=UTC)


def requested(request_id: str, user: int | None) -> RatingRequested:
    return RatingRequested(event_id=f"{request_id}/a", request_id=request_id, issue_id="1", cycle=1, requested_at=T0,
                           trigger_partition=0, trigger_offset=1, deliverable=user is not None,
                           recipient_user_id=user, addressed_at=T0)


def closed(request_id: str, reason: str = "reopened") -> RatingClosed:
    return RatingClosed(event_id=f"{request_id}/closed", request_id=request_id, issue_id="1", reason=reason, closed_at=T0)


def test_a_request_closed_before_its_addressing_came_back_is_the_same_decision():
    live = decisions([requested("1.0.1", 555), closed("1.0.1")], [])
    fast = decisions([closed("1.0.1")], [])
    assert all(change.none for change in compare(live, fast).values())


def test_a_request_to_someone_else_is_a_change():
    changes = compare(decisions([requested("1.0.1", 555)], []), decisions([requested("1.0.1", 556)], []))
    assert changes["requests"].changed == {"1.0.1": ("to 555", "to 556")}
    assert compare(decisions([requested("1.0.2", None)], []), decisions([], []))["requests"].removed == {"1.0.2": "undeliverable"}


async def test_a_replay_whose_worker_crashed_fails_at_once_with_the_reason_rather_than_waiting():
    from types import SimpleNamespace

    from okrate.replay import ReplayError, _run_until_caught_up

    app = SimpleNamespace(faust=SimpleNamespace(crashed=True, crash_reason=RuntimeError("rocksdb: no space left")))
    with pytest.raises(ReplayError, match="crashed: RuntimeError\\('rocksdb: no space left'\\)"):
        await _run_until_caught_up(app, "127.0.0.1:1", "group", [], {}, None, timeout=30)
