"""The faults, in turn, during the load: the ingest unreachable for Okdesk for a while (its
deliveries fail and are never sent again: only the sweep can find those resolutions), `kill -9`
of the ingest, of the (supervised) streams worker and of the notifier, each restarted by `okrate
run`'s supervisor, then a restart of the broker on the same data dir (the services must find it
again by themselves)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from bench.okrate_run import OkrateRun
from bench.sandbox_client import SandboxClient

KILLED = ("ingest", "streams", "notifier")


@dataclass
class FaultEvent:
    what: str
    at: float  # seconds since the load began
    recovered_after_s: float | None = None
    detail: str = ""


@dataclass
class FaultLog:
    events: list[FaultEvent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def inject(run: OkrateRun, sandbox: SandboxClient, began: float, gap_s: float, outage_s: float,
                 record: FaultLog) -> None:
    """Each fault `gap_s` after the previous one recovered."""
    await asyncio.sleep(gap_s)
    t = time.monotonic()
    try:
        await sandbox.webhooks_down(True)
        await asyncio.sleep(outage_s)
    except Exception as exc:
        record.errors.append(f"ingest unreachable: {type(exc).__name__}: {exc}")
    finally:
        await sandbox.webhooks_down(False)
    record.events.append(FaultEvent("ingest unreachable", t - began, time.monotonic() - t,
                                    f"{outage_s:g} s of webhooks Okdesk could not deliver, until {time.strftime('%H:%M:%S')}"))
    for name in KILLED:
        await asyncio.sleep(gap_s)
        try:
            pid = run.kill_child(name)
            t = time.monotonic()
            new = await asyncio.to_thread(run.wait_child_back, name, pid, 120.0)
            record.events.append(FaultEvent(f"kill -9 {name}", t - began, time.monotonic() - t,
                                            f"pid {pid} → {new}, at {time.strftime('%H:%M:%S')}"))
        except Exception as exc:
            record.errors.append(f"kill -9 {name}: {type(exc).__name__}: {exc}")
    await asyncio.sleep(gap_s)
    t = time.monotonic()
    try:
        away = await asyncio.to_thread(run.restart_broker, 3.0)
        record.events.append(FaultEvent("broker down/up", t - began, away,
                                        f"LocalKafka.down, 3 s, .up; up at {time.strftime('%H:%M:%S')}"))
    except Exception as exc:
        record.errors.append(f"broker restart: {type(exc).__name__}: {exc}")
