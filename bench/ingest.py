"""`okrate bench ingest`: webhooks per second and latency of the ingest, against a bare aiohttp
handler that answers without Kafka (this machine's ceiling), with the same load generator.

Floors: throughput ratio ≥ 0.5 at saturation, p99 ≤ 25 ms at 500 offered webhooks per second.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from contextlib import contextmanager

from bench.broker import bench_broker
from bench.common import free_port, wait_port, write_result
from bench.load import offered_rate, saturation
from sandbox.webhooks import build_webhook, encode_body

RATE = 500.0
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CONCURRENCY = 32


@contextmanager
def _server(args: list[str], port: int, env: dict[str, str]):
    proc = subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}/okdesk-webhook"
    finally:
        proc.terminate()
        proc.wait(30)


def _bodies() -> list[bytes]:
    bodies = []
    for i in range(2000):
        dialect = "okdesk" if i % 2 else "seed"
        bodies.append(encode_body(build_webhook(dialect, 10_000 + i, "completed", "opened", 95 + i % 50, 147,
                                                title=f"Бенчмарк {i}")))
    return bodies


async def _measure(url: str, bodies: list[bytes]) -> dict:
    await saturation(url, bodies, 8, 2)  # warm-up: connections, the producer's metadata
    fixed = await offered_rate(url, bodies, RATE, SECONDS)
    saturated = await saturation(url, bodies, CONCURRENCY, SECONDS)
    return {"fixed_500_per_s": fixed.summary(), "saturation": saturated.summary()}


def main() -> dict:
    bodies = _bodies()
    with bench_broker() as bootstrap:
        prefix = f"bench{uuid.uuid4().hex[:6]}-"
        port = free_port()
        env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "TOPIC_PREFIX": prefix, "INGEST_PORT": str(port),
               "INGEST_HOST": "127.0.0.1", "LOG_LEVEL": "WARNING", "WEBHOOK_SECRET": ""}
        with _server([sys.executable, "-m", "okrate.cli", "ingest"], port, env) as url:
            ingest = asyncio.run(_measure(url, bodies))
        bare_port = free_port()
        with _server([sys.executable, "-m", "bench.bare_server", str(bare_port)], bare_port, {}) as url:
            bare = asyncio.run(_measure(url, bodies))
    ratio = ingest["saturation"]["per_second"] / bare["saturation"]["per_second"]
    p99 = ingest["fixed_500_per_s"]["p99_ms"]
    result = {
        "ingest": ingest, "bare_aiohttp": bare, "saturation_ratio": round(ratio, 3),
        "floors": {"saturation_ratio_min": 0.5, "p99_ms_at_500_max": 25.0},
        "floors_met": {"saturation_ratio": ratio >= 0.5, "p99_at_500": p99 is not None and p99 <= 25.0},
    }
    write_result("ingest", result)
    return result


if __name__ == "__main__":
    main()
