"""What `GET /dashboard/data` and `GET /stats.csv` answer: documents made from the statistics'
snapshots and the tail of low ratings, pure (no Kafka)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from base.export import STATS_COLUMNS, stats_rows, write_rows
from schemas.records import StatsSnapshot
from streams.stats.fold import BUCKET_BOUNDS
from streams.web.low_ratings import LOW_SCORE, TailView

DAYS = 31  # days shown, ending at the latest day with figures
WEEKS = 26
TOP_ENTITIES = 12  # assignees, groups, companies shown (most ratings first)
REFRESH_SECONDS = 5  # how often the page asks again


# -- the dashboard's data ----------------------------------------------------------------------


def iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def duration_label(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


BUCKETS: tuple[tuple[str, int | None, str], ...] = (
    *((str(b), b, f"≤ {duration_label(b)}") for b in BUCKET_BOUNDS),
    ("inf", None, f"> {duration_label(BUCKET_BOUNDS[-1])}"),
)


def histogram(counts: dict[str, int]) -> list[dict[str, Any]]:
    """The snapshot's buckets from the first to the last one used (empty ones between: 0)."""
    used = [i for i, (key, _, _) in enumerate(BUCKETS) if counts.get(key)]
    if not used:
        return []
    return [{"le": le, "label": label, "count": counts.get(key, 0)}
            for key, le, label in BUCKETS[used[0]:used[-1] + 1]]


def durations(snap: StatsSnapshot | None, kind: str) -> dict[str, Any]:
    if snap is None:
        return {"count": 0, "p50_seconds": None, "p90_seconds": None, "buckets": []}
    return {"count": getattr(snap, f"{kind}_time_count"),
            "p50_seconds": getattr(snap, f"{kind}_time_p50_seconds"),
            "p90_seconds": getattr(snap, f"{kind}_time_p90_seconds"),
            "buckets": histogram(getattr(snap, f"{kind}_time_buckets"))}


def low_count(snap: StatsSnapshot) -> int:
    return sum(snap.score_counts.get(str(s), 0) for s in range(1, LOW_SCORE + 1))


def _series(keys: list[str], latest: dict[str, StatsSnapshot], prefix: str) -> dict[str, list[Any]]:
    snaps = [latest.get(f"{prefix}:{key}") for key in keys]
    return {
        "labels": keys,
        "ratings_count": [s.ratings_count if s else 0 for s in snaps],
        "ratings_average": [s.ratings_average if s else None for s in snaps],
        "low_count": [low_count(s) if s else 0 for s in snaps],
        "requests_sent": [s.requests_sent if s else 0 for s in snaps],
        "response_rate": [s.response_rate if s else None for s in snaps],
    }


def day_keys(present: Iterable[str], n: int = DAYS) -> list[str]:
    """`n` consecutive days ending at the latest one present (not before the first present)."""
    days = sorted(date.fromisoformat(k) for k in present)
    if not days:
        return []
    start = max(days[0], days[-1] - timedelta(days=n - 1))
    return [(start + timedelta(days=i)).isoformat() for i in range((days[-1] - start).days + 1)]


def week_keys(present: Iterable[str], n: int = WEEKS) -> list[str]:
    """`n` consecutive ISO weeks (`2026-W48`) ending at the latest one present."""
    mondays = sorted(date.fromisocalendar(int(k[:4]), int(k[6:]), 1) for k in present)
    if not mondays:
        return []
    start = max(mondays[0], mondays[-1] - timedelta(weeks=n - 1))
    out = []
    for i in range((mondays[-1] - start).days // 7 + 1):
        year, week, _ = (start + timedelta(weeks=i)).isocalendar()
        out.append(f"{year}-W{week:02d}")
    return out


def entities(latest: dict[str, StatsSnapshot], prefix: str, names: dict[str, str],
             n: int = TOP_ENTITIES) -> dict[str, Any]:
    """The `n` with the most ratings (then requests, then id) of one kind of dimension."""
    found = [(dim.partition(":")[2], snap) for dim, snap in latest.items()
             if dim.startswith(prefix + ":")]
    found.sort(key=lambda item: (-item[1].ratings_count, -item[1].requests_sent, item[0]))
    items = [{"id": key, "name": names.get(key), "ratings_count": s.ratings_count,
              "ratings_average": s.ratings_average, "low_count": low_count(s),
              "requests_sent": s.requests_sent, "response_rate": s.response_rate}
             for key, s in found[:n]]
    return {"total": len(found), "items": items}


def issue_url(portal: str | None, issue_id: str) -> str | None:
    if not portal:
        return None
    return f"{portal.rstrip('/')}/issues/{quote(issue_id, safe='')}"


def dashboard_document(latest: dict[str, StatsSnapshot], tail: TailView, portal: str | None,
                       now: datetime | None = None) -> dict[str, Any]:
    """Everything the page shows (`GET /dashboard/data`)."""
    every = latest.get("all")
    names = tail.names
    totals: dict[str, Any] = {"ratings_count": 0, "ratings_average": None, "low_count": 0}
    if every is not None:
        totals = {
            "ratings_count": every.ratings_count, "ratings_average": every.ratings_average,
            "low_count": low_count(every), "response_rate": every.response_rate,
            "requests_sent": every.requests_sent, "requests_delivered": every.requests_delivered,
            "requests_undeliverable": every.requests_undeliverable,
            "requests_reminded": every.requests_reminded, "requests_expired": every.requests_expired,
            "requests_closed": dict(every.requests_closed),
            "portal_rate_counts": dict(every.portal_rate_counts),
            "events_counted": every.events_counted,
        }
    days = day_keys(d[4:] for d in latest if d.startswith("day:"))
    weeks = week_keys(d[5:] for d in latest if d.startswith("week:"))
    top_types = dict(every.top_types) if every else {}
    low_types = dict(every.top_low_score_types) if every else {}
    type_codes = list(top_types) + [code for code in low_types if code not in top_types]
    return {
        "generated_at": iso(now or datetime.now(UTC)),
        "updated_at": iso(every.updated_at) if every else None,
        "refresh_seconds": REFRESH_SECONDS,
        "portal_url": portal,
        "low_score": LOW_SCORE,
        "totals": totals,
        "scores": {"labels": ["1", "2", "3", "4", "5"],
                   "counts": [every.score_counts.get(s, 0) if every else 0 for s in "12345"]},
        "days": _series(days, latest, "day"),
        "weeks": _series(weeks, latest, "week"),
        "assignees": entities(latest, "assignee", names.assignee),
        "groups": entities(latest, "group", names.group),
        "companies": entities(latest, "company", names.company),
        "resolution_time": durations(every, "resolution"),
        "reaction_time": durations(every, "reaction"),
        "types": {"labels": type_codes, "names": [names.type.get(c) for c in type_codes],
                  "issues": [top_types.get(c, 0) for c in type_codes],
                  "low_ratings": [low_types.get(c, 0) for c in type_codes]},
        "reasons": {"labels": list(every.top_reasons) if every else [],
                    "counts": list(every.top_reasons.values()) if every else []},
        "low_ratings": {
            "complete": tail.complete,
            "items": [{
                "issue_id": r.issue_id, "url": issue_url(portal, r.issue_id), "title": r.title,
                "score": r.score, "rated_at": iso(r.rated_at), "reasons": list(r.reasons),
                "type_code": r.type_code, "type_name": names.type.get(r.type_code or ""),
                "company_id": r.company_id, "company_name": names.company.get(r.company_id or ""),
                "assignee_id": r.assignee_id,
                "assignee_name": names.assignee.get(r.assignee_id or ""),
                "group_id": r.group_id, "group_name": names.group.get(r.group_id or ""),
            } for r in tail.low],
        },
    }


def stats_csv(latest: dict[str, StatsSnapshot]) -> str:
    """Every dimension as a spreadsheet: `okrate export stats`'s columns and rows."""
    out = io.StringIO()
    write_rows(stats_rows(latest.values()), STATS_COLUMNS, "csv", out)
    return out.getvalue()
