"""`okrate export`, wired to Kafka, with a progress bar on long reads (stderr)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from base import export
from base.names import reader_group
from base.settings import Settings
from base.topic_reader import read_to_end
from schemas.records import Record
from schemas.topics import CONTACT_LINKS, RATING_RECORDED, RATING_REQUESTED, RATING_STATS, TopicSpec


class RateColumn(ProgressColumn):
    """Events per second."""

    def render(self, task) -> Text:
        return Text(f"{task.speed:,.0f} ev/s" if task.speed else "")


def progress_bar() -> Progress:
    """A progress bar on stderr, shown only to a person at a terminal."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                    TimeRemainingColumn(), transient=True, disable=not sys.stderr.isatty())


def parse_when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date or time (like 2026-11-01 or 2026-11-01T12:00+03:00)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _records(settings: Settings, bootstrap: str, spec: TopicSpec, progress: Progress) -> Iterator[Record]:
    task = progress.add_task(spec.name, total=None)

    def advance(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    yield from export.decoded(m.value for m in read_to_end(bootstrap, spec.full_name(settings), progress=advance,
                                                                group=reader_group(settings, "export")))


def run_export(settings: Settings, bootstrap: str, what: str, since: str | None, until: str | None,
               fmt: str, out: Path | None) -> int:
    window = export.Window(parse_when(since), parse_when(until))
    progress = progress_bar()
    with progress:
        forgotten = export.forgotten_contacts(_records(settings, bootstrap, CONTACT_LINKS, progress))
        if what == "ratings":
            rows = export.rating_rows(list(_records(settings, bootstrap, RATING_RECORDED, progress)), forgotten, window)
        elif what == "reasons":
            rows = export.reason_rows(list(_records(settings, bootstrap, RATING_RECORDED, progress)), forgotten, window)
        elif what == "requests":
            requested = list(_records(settings, bootstrap, RATING_REQUESTED, progress))
            recorded = list(_records(settings, bootstrap, RATING_RECORDED, progress))
            rows = export.request_rows(requested, recorded, forgotten, window)
        else:
            rows = export.stats_rows(_records(settings, bootstrap, RATING_STATS, progress))
        rows = list(rows)
    columns = export.COLUMNS[what]
    if out is None:
        return export.write_rows(rows, columns, fmt, sys.stdout)
    with out.open("w", encoding="utf-8", newline="") as handle:
        return export.write_rows(rows, columns, fmt, handle)
