"""`okrate bench ingest`: webhooks per second and latency of the ingest, with the same load
generator, against two references measured in the same run:

- the durable baseline (`bench.durable_server`): a bare aiohttp handler plus one confluent-kafka
  produce (acks=all, idempotent) awaited through a delivery callback: the limit of any handler
  that answers only after Kafka's acknowledgement;
- the bare handler (`bench.bare_server`): answers without writing anything (the HTTP ceiling).

All four servers (the ingest also with `--workers 2`) run at once, idle but for the one under load,
and the load visits them in short slices (BENCH_SLICE_SECONDS, default 3), the order rotating:
BENCH_SLICES slices each (default 10) at 500 offered webhooks/s, then as many at saturation
(concurrency 32). On a machine shared with other work, every server so sees the same mix of
quiet and busy moments; the figures are over all of a server's slices, and the spread of the
ratio slice by slice is reported too. So is each server's CPU time (all its threads and worker
processes) per answer during the saturation slices: where the cores are oversubscribed, throughput
follows the scheduler's share as much as the server's own cost, and CPU per answer is that cost.

Floors: saturation ≥ 0.8 × the durable baseline; p99 at 500 offered webhooks/s ≤ 1.5 × the durable
baseline's p99 at that rate.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path

import aiohttp

from base.settings import load_settings
from base.topic_admin import ensure_topics
from bench.broker import bench_broker
from bench.common import free_port, wait_port, write_result
from bench.load import LoadResult, offered_rate, saturation
from sandbox.webhooks import build_webhook, encode_body
from schemas.topics import OKDESK_EVENTS

RATE = 500.0
SLICE_SECONDS = float(os.environ.get("BENCH_SLICE_SECONDS", "3"))
SLICES = int(os.environ.get("BENCH_SLICES", "10"))
CONCURRENCY = 32
# A fresh broker's tail stays long well after its throughput settled: with 15 s, the first slices
# at 500/s had p99s of 30-50 ms for every durable server (8-18 ms later), whichever came first.
BROKER_WARMUP_S = 30.0
SERVER_WARMUP_S = 4.0
SATURATION_FLOOR = 0.8
P99_CEILING = 1.5
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SERVERS = ("durable_baseline", "ingest", "ingest_2_workers", "bare_aiohttp")


@contextmanager
def _server(args: list[str], port: int, env: dict[str, str]):
    """Yields (url, pid)."""
    proc = subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}/okdesk-webhook", proc.pid
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


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) of a process and of its live descendants."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            todo += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def _commands(bootstrap: str, prefix: str, port: int) -> dict[str, tuple[list[str], dict[str, str]]]:
    ingest_env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "TOPIC_PREFIX": prefix, "INGEST_HOST": "127.0.0.1",
                  "LOG_LEVEL": "WARNING", "WEBHOOK_SECRET": "", "INGEST_PORT": str(port)}
    topic = OKDESK_EVENTS.full_name(load_settings(_env_file=None, topic_prefix=prefix))
    return {
        "durable_baseline": ([sys.executable, "-m", "bench.durable_server", str(port), bootstrap, topic], {}),
        "ingest": ([sys.executable, "-m", "okrate.cli", "ingest", "--workers", "1"], ingest_env),
        "ingest_2_workers": ([sys.executable, "-m", "okrate.cli", "ingest", "--workers", "2"], ingest_env),
        "bare_aiohttp": ([sys.executable, "-m", "bench.bare_server", str(port)], {}),
    }


async def _measure(urls: dict[str, str], pids: dict[str, int], bodies: list[bytes]) -> tuple[dict, dict, dict]:
    """(totals per server and phase, the slices' figures per phase, CPU µs per answer at saturation)."""
    totals = {n: {"fixed_500_per_s": LoadResult(), "saturation": LoadResult()} for n in urls}
    cpu = dict.fromkeys(urls, 0.0)
    slices: dict[str, list[dict]] = {"fixed_500_per_s": [], "saturation": []}
    names = list(urls)
    open_loop = {n: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) for n in urls}
    closed_loop = {n: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) for n in urls}
    try:
        # A fresh broker is slow until its JIT compiled the produce path: in no slice.
        await saturation(closed_loop["durable_baseline"], urls["durable_baseline"], bodies, CONCURRENCY, BROKER_WARMUP_S)
        for name, url in urls.items():  # connections, the producers' metadata, the broker's paths
            await saturation(closed_loop[name], url, bodies, CONCURRENCY, SERVER_WARMUP_S)
            await offered_rate(open_loop[name], url, bodies, RATE, SERVER_WARMUP_S / 2)
        for phase, run in (("fixed_500_per_s", lambda n: offered_rate(open_loop[n], urls[n], bodies, RATE, SLICE_SECONDS)),
                           ("saturation", lambda n: saturation(closed_loop[n], urls[n], bodies, CONCURRENCY, SLICE_SECONDS))):
            for k in range(SLICES):
                this = {}
                for name in names[k % len(names):] + names[:k % len(names)]:
                    before = _cpu_seconds(pids[name])
                    one = await run(name)
                    if phase == "saturation":
                        cpu[name] += _cpu_seconds(pids[name]) - before
                    this[name] = one.summary()
                    _add(totals[name][phase], one)
                slices[phase].append(this)
                print(f"bench ingest: {phase} slice {k + 1}/{SLICES}: " + ", ".join(
                    f"{n} {f['per_second']}/s p99 {f['p99_ms']} ms" for n, f in this.items()), file=sys.stderr)
    finally:
        for session in (*open_loop.values(), *closed_loop.values()):
            await session.close()
    cpu_us = {n: round(cpu[n] / max(1, totals[n]["saturation"].statuses.get(200, 0)) * 1e6, 1) for n in urls}
    return {n: {p: r.summary() for p, r in phases.items()} for n, phases in totals.items()}, slices, cpu_us


def _add(total: LoadResult, one: LoadResult) -> None:
    total.sent += one.sent
    total.errors += one.errors
    total.seconds += one.seconds
    total.latencies_ms.extend(one.latencies_ms)
    for status, count in one.statuses.items():
        total.statuses[status] = total.statuses.get(status, 0) + count


def _ratios(r: dict[str, dict]) -> dict[str, float]:
    def sat(name: str) -> float:
        return r[name]["saturation"]["per_second"] or 0.0

    def p99(name: str) -> float:
        return r[name]["fixed_500_per_s"]["p99_ms"] or float("inf")

    return {
        "saturation_to_durable": round(sat("ingest") / sat("durable_baseline"), 3),
        "p99_at_500_to_durable": round(p99("ingest") / p99("durable_baseline"), 3),
        "saturation_to_bare": round(sat("ingest") / sat("bare_aiohttp"), 3),
        "durable_to_bare": round(sat("durable_baseline") / sat("bare_aiohttp"), 3),
        "two_workers_to_one": round(sat("ingest_2_workers") / sat("ingest"), 3),
    }


def _spread(slices: dict[str, list[dict]]) -> dict[str, list[float]]:
    """The headline ratios slice by slice: [min, max]."""
    sat = [s["ingest"]["per_second"] / s["durable_baseline"]["per_second"] for s in slices["saturation"]]
    p99 = [s["ingest"]["p99_ms"] / s["durable_baseline"]["p99_ms"] for s in slices["fixed_500_per_s"]]
    two = [s["ingest_2_workers"]["per_second"] / s["ingest"]["per_second"] for s in slices["saturation"]]
    return {"saturation_to_durable": [round(min(sat), 3), round(max(sat), 3)],
            "p99_at_500_to_durable": [round(min(p99), 3), round(max(p99), 3)],
            "two_workers_to_one": [round(min(two), 3), round(max(two), 3)]}


def main() -> dict:
    bodies = _bodies()
    with bench_broker() as bootstrap, ExitStack() as servers:
        prefix = f"bench{uuid.uuid4().hex[:6]}-"
        ensure_topics(bootstrap, load_settings(_env_file=None, topic_prefix=prefix))
        urls, pids = {}, {}
        for name in SERVERS:
            port = free_port()
            args, env = _commands(bootstrap, prefix, port)[name]
            urls[name], pids[name] = servers.enter_context(_server(args, port, env))
        totals, slices, cpu_us = asyncio.run(_measure(urls, pids, bodies))
    ratios = _ratios(totals)
    for name in SERVERS:
        totals[name]["saturation"]["cpu_us_per_answer"] = cpu_us[name]
    # On a machine whose cores are oversubscribed, throughput follows the scheduler's share as
    # much as the server's cost: CPU time per answer is the cost itself.
    ratios["cpu_per_answer_durable_to_ingest"] = round(cpu_us["durable_baseline"] / cpu_us["ingest"], 3)
    result = {
        "slices": SLICES, "slice_seconds": SLICE_SECONDS, "concurrency": CONCURRENCY,
        **totals,
        "ratios": ratios,
        "ratios_spread_over_slices": _spread(slices),
        "floors": {"saturation_to_durable_min": SATURATION_FLOOR, "p99_at_500_to_durable_max": P99_CEILING},
        "floors_met": {"saturation_to_durable": ratios["saturation_to_durable"] >= SATURATION_FLOOR,
                       "p99_at_500_to_durable": ratios["p99_at_500_to_durable"] <= P99_CEILING},
        "per_slice": slices,
    }
    write_result("ingest", result)
    return result


if __name__ == "__main__":
    main()
