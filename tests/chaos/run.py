"""`python -m tests.chaos` (`make chaos`): `okrate run` in sandbox mode on a broker of its own, a
second streams worker beside the supervised one, a load of webhooks and presses, and during it,
in turn, kill -9 of the ingest, the streams worker and the notifier, and a broker restart. Once
nothing moves any more, the checks (tests/chaos/checks.py); the counts are printed as a table
and the exit status is 1 on any loss.

Knobs (environment): CHAOS_ISSUES (1500), CHAOS_RATE (15 resolutions/s), CHAOS_PRESS_SHARE
(0.7), CHAOS_FAULT_GAP (15 s between a recovery and the next fault), CHAOS_OUTAGE (8 s of the
ingest unreachable), CHAOS_SWEEP_EVERY (30s: the sweep that finds the outage's resolutions; longer
than QUIET_S, since each sweep records its position), CHAOS_KEEP=1 keeps the scratch folder (logs,
broker data) for a post-mortem.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from base.consumer_lag import end_offsets, group_lag
from base.names import streams_app_id
from base.settings import Settings, load_settings
from bench.okrate_run import OkrateRun
from bench.sandbox_client import SandboxClient
from schemas.topics import (
    ALL_TOPICS,
    CLOCK_TICKS,
    CONTACT_LINKS,
    NOTIFIER_OUTCOMES,
    OKDESK_EVENTS,
    RATING_RECEIVED,
    RATING_RECORDED,
    RATING_REQUESTED,
    REQUESTS_BY_CONTACT,
    REQUESTS_BY_ISSUE,
    STATS_BY_DIMENSION,
    TELEGRAM_UPDATES,
)
from tests.chaos import checks
from tests.chaos.faults import FaultLog, inject
from tests.chaos.load import LoadLog, Plan, Presser, Resolver, Seeded, seed

QUIET_S = 20.0  # nothing moved for this long, and every group caught up: settled
STALLED_S = 60.0  # nothing moved for this long, but a group has not caught up: stalled
SETTLE_TIMEOUT_S = float(os.environ.get("CHAOS_SETTLE_TIMEOUT", "300"))
OUTAGE_S = float(os.environ.get("CHAOS_OUTAGE", "8"))
SWEEP_EVERY = os.environ.get("CHAOS_SWEEP_EVERY", "30s")


def _say(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Observed:
    load: LoadLog
    faults: FaultLog
    seeded: Seeded = field(default_factory=Seeded)
    load_seconds: float = 0.0
    settle_seconds: float = 0.0
    settled: bool = False
    lags: dict[str, int] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    sends: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)


def _signature(bootstrap: str, settings: Settings) -> tuple[int, ...]:
    topics = [spec.full_name(settings) for spec in ALL_TOPICS if spec is not CLOCK_TICKS]
    ends = end_offsets(bootstrap, topics)
    return tuple(ends[tp] for tp in sorted(ends, key=lambda tp: (tp.topic, tp.partition)))


def _lags(bootstrap: str, settings: Settings) -> dict[str, int]:
    """What each consumer group has not committed yet: the streams on their inputs, the notifier on
    the decisions it acts on. Zero everywhere (and nothing moving) is settled; a lag that stays is a
    stall, and is reported as one."""
    from notifier.service import group_id

    wanted = {
        streams_app_id(settings): (OKDESK_EVENTS, TELEGRAM_UPDATES, CONTACT_LINKS, RATING_RECEIVED,
                                  REQUESTS_BY_CONTACT, REQUESTS_BY_ISSUE, STATS_BY_DIMENSION,
                                  NOTIFIER_OUTCOMES),
        group_id(settings, "requests"): (RATING_REQUESTED,),
        group_id(settings, "decisions"): (RATING_RECORDED,),
    }
    return {group: sum(group_lag(bootstrap, group, [s.full_name(settings) for s in specs]).values())
            for group, specs in wanted.items()}


async def _settle(run: OkrateRun, settings: Settings, presser: Presser, timeout: float) -> tuple[bool, dict[str, int]]:
    """Until every group has caught up, no topic grows (but the clock's ticks) and no press is
    pending, for QUIET_S; the lags as last seen."""
    deadline = time.monotonic() + timeout
    last, since, lags, told = None, time.monotonic(), {}, 0.0
    while time.monotonic() < deadline:
        try:
            await presser.poll_once()
            signature = await asyncio.to_thread(_signature, run.bootstrap, settings)
            lags = await asyncio.to_thread(_lags, run.bootstrap, settings)
        except Exception as exc:
            _say(f"settle: {type(exc).__name__}: {exc}")
            signature = None
        if signature != last or presser._tasks or signature is None:
            last, since = signature, time.monotonic()
        elif time.monotonic() - since >= QUIET_S and not any(lags.values()):
            return True, lags
        elif time.monotonic() - since >= STALLED_S:
            _say(f"stalled: nothing moved for {STALLED_S:.0f}s, yet uncommitted: {lags}")
            return False, lags
        if time.monotonic() - told >= 30:
            told = time.monotonic()
            _say(f"settling: lags {lags}")
        await asyncio.sleep(3.0)
    return False, lags


async def _chaos(run: OkrateRun, settings: Settings, plan: Plan, gap: float) -> Observed:
    observed = Observed(LoadLog(), FaultLog())
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:
        sandbox = SandboxClient(http, run.okdesk, run.telegram)
        seeded = observed.seeded = await seed(sandbox, plan)
        from base.links import Links, link_record

        links = [link_record(str(c), "linked", "import", u) for c, u in seeded.linked.items()]
        await asyncio.to_thread(Links(settings, run.bootstrap).write, links)
        _say(f"seeded {len(seeded.issue_contact)} issues, {len(set(seeded.issue_contact.values()))} contacts, "
             f"{len(links)} linked")
        presser = Presser(sandbox, plan, seeded, observed.load)
        resolver = Resolver(sandbox, plan, seeded, observed.load)
        began = time.monotonic()
        pressing = asyncio.create_task(presser.run())
        faults = asyncio.create_task(inject(run, sandbox, began, gap, OUTAGE_S, observed.faults))
        await resolver.run()
        observed.load_seconds = time.monotonic() - began
        _say(f"all issues resolved in {observed.load_seconds:.0f}s; waiting for the faults to end")
        await faults
        for event in observed.faults.events:
            _say(f"  {event.what} at {event.at:.0f}s, back after {event.recovered_after_s:.1f}s ({event.detail})")
        _say(f"settling: waiting until nothing moves for {QUIET_S:.0f}s")
        t = time.monotonic()
        observed.settled, observed.lags = await _settle(run, settings, presser, SETTLE_TIMEOUT_S)
        observed.settle_seconds = time.monotonic() - t
        presser.stopping.set()
        await pressing
        observed.deliveries = await sandbox.webhook_deliveries()
        observed.sends = await sandbox.telegram_calls("sendMessage")
        observed.issues = await sandbox.issues()
    return observed


def _table(rows: list[tuple[str, str, str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = []
    for k, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary(observed: Observed, results: list[checks.Check], seconds: float) -> str:
    load = observed.load
    rows: list[tuple[str, str, str]] = [("check", "count", "value")]
    rows += [
        ("load", "status changes", str(load.status_changes)),
        ("load", "webhook posts (retries)", f"{load.webhook_attempts} ({load.webhook_retries})"),
        ("load", "webhooks given up", str(len(load.webhook_given_up))),
        ("load", "webhooks lost in the outage (never sent again)", str(len(load.webhooks_lost))),
        ("load", "presses accepted / refused / double", f"{len(load.press_updates)} / {load.press_refused} / {load.double_presses}"),
        ("load", "requests pressed", str(len(load.pressed))),
        ("faults", "injected / errors", f"{len(observed.faults.events)} / {len(observed.faults.errors)}"),
        ("settle", "settled (seconds)", f"{observed.settled} ({observed.settle_seconds:.0f})"),
        ("settle", "uncommitted at the end, by group", str(observed.lags)),
    ]
    for check in results:
        for key, value in check.counts.items():
            rows.append((check.name, key, str(value)))
        rows.append((check.name, "RESULT", "ok" if check.ok else f"FAILED ({len(check.failures)})"))
    rows.append(("total", "seconds", f"{seconds:.0f}"))
    return _table(rows)


def main() -> int:
    started = time.monotonic()
    plan = Plan(issues=int(os.environ.get("CHAOS_ISSUES", "1500")), rate=float(os.environ.get("CHAOS_RATE", "15")),
                press_share=float(os.environ.get("CHAOS_PRESS_SHARE", "0.7")))
    gap = float(os.environ.get("CHAOS_FAULT_GAP", "15"))
    keep = os.environ.get("CHAOS_KEEP") == "1"
    workdir = Path(tempfile.mkdtemp(prefix="okrate-chaos-"))

    def terminated(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminated)
    run = OkrateRun(workdir, log=_say, extra_env={"OKDESK_SWEEP_EVERY": SWEEP_EVERY})
    results: list[checks.Check] = []
    observed: Observed | None = None
    try:
        run.start()
        run.start_streams_worker(2)
        settings = load_settings(_env_file=None, kafka_bootstrap_servers=run.bootstrap, topic_prefix="",
                                 topic_partitions=8)
        _say(f"okrate run is up with two streams workers; load: {plan.issues} issues at {plan.rate:g}/s")
        observed = asyncio.run(_chaos(run, settings, plan, gap))
        _say("stopping the services (the broker stays) and checking")
        run.stop_services()
        for name, job in (
            ("accepted", lambda: checks.accepted_is_stored(run.bootstrap, settings, observed.deliveries, observed.load.press_updates)),
            ("delivered", lambda: checks.requests_delivered(run.bootstrap, settings, observed.sends)),
            ("asked once", lambda: checks.each_resolution_asked_once(run.bootstrap, settings, observed.seeded,
                                                                     observed.load.webhooks_lost,
                                                                     observed.load.retried_issues)),
            ("written back", lambda: checks.ratings_written_back(run.bootstrap, settings, observed.issues)),
            ("stats", lambda: checks.stats_equal_refold(run.bootstrap, settings)),
            ("reprocess", lambda: checks.one_worker_agrees(run.bootstrap, settings, "chaos-reprocess-", workdir / "reprocess")),
        ):
            t = time.monotonic()
            try:
                check = job()
            except Exception as exc:
                check = checks.Check(name, failures=[f"the check itself failed: {type(exc).__name__}: {exc}"])
            check.seconds = time.monotonic() - t
            _say(f"check {check.name}: {'ok' if check.ok else 'FAILED'} ({check.seconds:.0f}s)")
            results.append(check)
    except KeyboardInterrupt as exc:
        _say(f"interrupted: {exc}")
        return 130
    finally:
        run.stop()
        if keep:
            _say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    seconds = time.monotonic() - started
    print()
    print(summary(observed, results, seconds))
    failures = [f for c in results for f in c.failures]
    failures += [f"fault: {e}" for e in observed.faults.errors]
    failures += [f"webhook given up: issue {i}: {why}" for i, why in observed.load.webhook_given_up]
    if not observed.settled:
        failures.append(f"the system did not settle within {SETTLE_TIMEOUT_S:.0f}s: "
                        f"messages not yet committed, by consumer group: {observed.lags}")
    if failures:
        print("\nFAILURES")
        for f in failures:
            print(f"- {f}")
        return 1
    print(f"\nchaos: no loss ({seconds:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
