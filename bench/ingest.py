"""`okrate bench ingest`: webhooks per second and latency of the ingest, with the same load
generator, against two references measured in the same run:

- the durable baseline (`bench.durable_server`): a bare aiohttp handler plus one confluent-kafka
  produce (acks=all, idempotent) awaited through a delivery callback: the limit of any handler
  that answers only after Kafka's acknowledgement;
- the bare handler (`bench.bare_server`): answers without writing anything (the HTTP ceiling).

Each round measures every server in turn (the order rotates between rounds); the ratios are taken
within a round, and the figures reported are the medians over the rounds (BENCH_ROUNDS, default
3; BENCH_SECONDS per phase, default 10).

Floors: saturation ≥ 0.8 × the durable baseline; p99 at 500 offered webhooks/s ≤ 1.5 × the durable
baseline's p99 at that rate.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import uuid
from contextlib import contextmanager

from bench.broker import bench_broker
from bench.common import free_port, wait_port, write_result
from bench.load import offered_rate, saturation
from okrate.settings import load_settings
from sandbox.webhooks import build_webhook, encode_body
from schemas.topics import OKDESK_EVENTS, ensure_topics

RATE = 500.0
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BROKER_WARMUP_S = 15.0
CONCURRENCY = 32
SATURATION_FLOOR = 0.8
P99_CEILING = 1.5


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
    await saturation(url, bodies, 8, 3)  # warm-up: connections, the producer's metadata, the broker
    fixed = await offered_rate(url, bodies, RATE, SECONDS)
    saturated = await saturation(url, bodies, CONCURRENCY, SECONDS)
    return {"fixed_500_per_s": fixed.summary(), "saturation": saturated.summary()}


def _servers(bootstrap: str, prefix: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    """name -> (command without the port, environment); {port} is filled in per start."""
    ingest_env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "TOPIC_PREFIX": prefix, "INGEST_HOST": "127.0.0.1",
                  "LOG_LEVEL": "WARNING", "WEBHOOK_SECRET": ""}
    topic = OKDESK_EVENTS.full_name(load_settings(_env_file=None, topic_prefix=prefix))
    return {
        "durable_baseline": ([sys.executable, "-m", "bench.durable_server", "{port}", bootstrap, topic], {}),
        "ingest": ([sys.executable, "-m", "okrate.cli", "ingest", "--workers", "1"], ingest_env),
        "ingest_2_workers": ([sys.executable, "-m", "okrate.cli", "ingest", "--workers", "2"], ingest_env),
        "bare_aiohttp": ([sys.executable, "-m", "bench.bare_server", "{port}"], {}),
    }


def _run_round(servers: dict, order: list[str], bodies: list[bytes]) -> dict[str, dict]:
    measured = {}
    for name in order:
        args, env = servers[name]
        port = free_port()
        with _server([a.replace("{port}", str(port)) for a in args], port, {**env, "INGEST_PORT": str(port)}) as url:
            measured[name] = asyncio.run(_measure(url, bodies))
        print(f"bench ingest: {name}: {measured[name]['saturation']['per_second']}/s saturated, "
              f"p99 {measured[name]['fixed_500_per_s']['p99_ms']} ms at 500/s", file=sys.stderr)
    return measured


def _warm_up_broker(server: tuple[list[str], dict[str, str]], bodies: list[bytes]) -> None:
    """A fresh broker is slow until its JIT has compiled the produce path: not in any round."""
    args, env = server
    port = free_port()
    with _server([a.replace("{port}", str(port)) for a in args], port, env) as url:
        asyncio.run(saturation(url, bodies, CONCURRENCY, BROKER_WARMUP_S))


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


def _median_figures(rounds: list[dict[str, dict]]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for name in rounds[0]:
        out[name] = {}
        for phase in ("fixed_500_per_s", "saturation"):
            out[name][phase] = {
                k: round(statistics.median(r[name][phase][k] for r in rounds), 2)
                for k in ("per_second", "p50_ms", "p99_ms")
            }
            out[name][phase]["non_200"] = sum(r[name][phase]["sent"] - r[name][phase]["ok"] for r in rounds)
    return out


def main() -> dict:
    bodies = _bodies()
    rounds: list[dict[str, dict]] = []
    with bench_broker() as bootstrap:
        prefix = f"bench{uuid.uuid4().hex[:6]}-"
        ensure_topics(bootstrap, load_settings(_env_file=None, topic_prefix=prefix))
        servers = _servers(bootstrap, prefix)
        names = list(servers)
        _warm_up_broker(servers["durable_baseline"], bodies)
        for k in range(ROUNDS):
            order = names[k % len(names):] + names[:k % len(names)]
            rounds.append(_run_round(servers, order, bodies))
    per_round = [_ratios(r) for r in rounds]
    ratios = {key: round(statistics.median(r[key] for r in per_round), 3) for key in per_round[0]}
    result = {
        "rounds": ROUNDS, "seconds_per_phase": SECONDS, "concurrency": CONCURRENCY,
        **_median_figures(rounds),
        "ratios": ratios,
        "ratios_per_round": per_round,
        "floors": {"saturation_to_durable_min": SATURATION_FLOOR, "p99_at_500_to_durable_max": P99_CEILING},
        "floors_met": {"saturation_to_durable": ratios["saturation_to_durable"] >= SATURATION_FLOOR,
                       "p99_at_500_to_durable": ratios["p99_at_500_to_durable"] <= P99_CEILING},
        "raw_rounds": rounds,
    }
    write_result("ingest", result)
    return result


if __name__ == "__main__":
    main()
