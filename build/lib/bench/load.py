"""An HTTP load generator: a fixed offered rate (open loop), or saturation (closed loop)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp

from bench.common import percentile


@dataclass
class LoadResult:
    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict:
        ok = self.statuses.get(200, 0)
        return {
            "sent": self.sent, "ok": ok, "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": self.errors, "seconds": round(self.seconds, 2),
            "per_second": round(ok / self.seconds, 1) if self.seconds else None,
            "p50_ms": _r(percentile(self.latencies_ms, 50)), "p99_ms": _r(percentile(self.latencies_ms, 99)),
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def _one(session: aiohttp.ClientSession, url: str, body: bytes, started: float, result: LoadResult) -> None:
    try:
        async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
            await response.read()
            result.statuses[response.status] = result.statuses.get(response.status, 0) + 1
    except aiohttp.ClientError:
        result.errors += 1
    result.latencies_ms.append((time.perf_counter() - started) * 1000)


async def offered_rate(session: aiohttp.ClientSession, url: str, bodies: list[bytes], rate: float, seconds: float,
                       into: LoadResult | None = None) -> LoadResult:
    """Sends at `rate` per second whatever the answers (latency counts from the scheduled time).
    With `into`, adds to an earlier result (several slices of one measurement)."""
    result = into or LoadResult()
    begin = time.perf_counter()
    tasks = []
    for i in range(int(rate * seconds)):
        at = begin + i / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_one(session, url, bodies[(result.sent + i) % len(bodies)], at, result)))
    result.sent += len(tasks)
    await asyncio.gather(*tasks)
    result.seconds += time.perf_counter() - begin
    return result


async def saturation(session: aiohttp.ClientSession, url: str, bodies: list[bytes], concurrency: int, seconds: float,
                     into: LoadResult | None = None) -> LoadResult:
    """`concurrency` requests always in flight for `seconds` (the session's connector should
    allow that many connections)."""
    result = into or LoadResult()
    deadline = time.perf_counter() + seconds
    offset = result.sent

    async def worker(k: int) -> None:
        i = offset + k
        while time.perf_counter() < deadline:
            result.sent += 1
            await _one(session, url, bodies[i % len(bodies)], time.perf_counter(), result)
            i += concurrency

    begin = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    result.seconds += time.perf_counter() - begin
    return result
