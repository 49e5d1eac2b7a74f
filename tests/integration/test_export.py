"""`okrate export`: N recorded ratings give N rows with the documented columns; a forgotten
contact is left out; duplicates written by at-least-once delivery count once."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import UTC, datetime, timedelta

from base.export import RATING_COLUMNS, REQUEST_COLUMNS
from base.links import link_record
from schemas.records import RatingRecorded, RatingRequested
from schemas.topics import CONTACT_LINKS, RATING_RECORDED, RATING_REQUESTED
from tests.integration.test_links import okrate
from tests.streams_harness import Feeder

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def recorded(n: int, contact: str) -> RatingRecorded:
    return RatingRecorded(event_id=f"press/{n}/recorded", request_id=f"{n}.0.{n}", issue_id=str(n), score=n % 5 + 1,
                          from_user_id=500 + n, update_id=n, requested_at=T0, pressed_at=T0 + timedelta(hours=n),
                          contact_id=contact, company_id="147", title=f"Заявка «{n}», с запятой")


def requested(n: int, contact: str) -> RatingRequested:
    return RatingRequested(event_id=f"{n}.0.{n}/addressed", request_id=f"{n}.0.{n}", issue_id=str(n), cycle=1,
                           requested_at=T0, trigger_partition=0, trigger_offset=n, contact_id=contact,
                           deliverable=True, recipient_user_id=500 + n, addressed_at=T0)


async def test_export_ratings_and_requests(settings_for, kafka_bootstrap, tmp_path):
    settings = settings_for()
    feed = Feeder(settings, kafka_bootstrap)
    for n in range(1, 11):
        contact = "99" if n == 10 else str(90 + n % 3)
        feed.record(RATING_RECORDED, str(n), recorded(n, contact))
        feed.record(RATING_REQUESTED, str(n), requested(n, contact))
    feed.record(RATING_RECORDED, "3", recorded(3, "93"))  # redelivered
    feed.record(CONTACT_LINKS, "99", link_record("99", "forgotten", "forget"))

    out = tmp_path / "ratings.csv"
    result = await asyncio.to_thread(okrate, settings, kafka_bootstrap, "export", "ratings", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 9
    assert tuple(rows[0].keys()) == RATING_COLUMNS
    assert "99" not in {r["contact_id"] for r in rows}
    assert {r["title"] for r in rows if r["issue_id"] == "1"} == {"Заявка «1», с запятой"}

    window = await asyncio.to_thread(okrate, settings, kafka_bootstrap, "export", "ratings", "--format", "jsonl",
                                     "--since", "2026-11-20T13:00:00+00:00", "--until", "2026-11-20T16:00:00Z", cwd=tmp_path)
    assert window.returncode == 0, window.stderr
    assert sorted(json.loads(line)["issue_id"] for line in window.stdout.splitlines()) == ["3", "4", "5"]

    requests = await asyncio.to_thread(okrate, settings, kafka_bootstrap, "export", "requests", "--format", "jsonl", cwd=tmp_path)
    lines = [json.loads(line) for line in requests.stdout.splitlines()]
    assert len(lines) == 9 and tuple(lines[0].keys()) == REQUEST_COLUMNS
    assert {line["outcome"] for line in lines} == {"rated"}

    bad = await asyncio.to_thread(okrate, settings, kafka_bootstrap, "export", "ratings", "--since", "yesterday", cwd=tmp_path)
    assert bad.returncode == 2 and "not an ISO date" in bad.stderr
