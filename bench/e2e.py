"""`okrate bench e2e`: the whole pipeline, timed from outside, on `okrate run` in sandbox mode.

Two latencies, on one machine and one clock (`time.time()` here, and the stand-ins record every
call with `time.time()` as it arrives):

- webhook → request: from the webhook POST to the ingest until the `sendMessage` carrying that
  issue's rating buttons arrives at the Bot API stand-in, at a fixed offered rate of 20 webhooks
  per second (open loop) for BENCH_E2E_SECONDS (default 300). Floor: p99 ≤ 500 ms.
- press → comment: from a button press (the user's side of the Bot API stand-in) until the rating
  comment arrives at the Okdesk stand-in; every BENCH_E2E_PRESS_EVERY-th issue is pressed, a few
  seconds after its message came, during the same load.

Each latency is split at the Kafka hops by the records' timestamps (the ingest's ack, the
RatingRequested / RatingRecorded write by the streams worker, the update written by the poller),
so that a missed floor names the stage that spends the time.

The broker is a throw-away LocalKafka in a temporary folder (not KAFKA_BOOTSTRAP_SERVERS: the
run must own its topics); the Okdesk stand-in is seeded with one contact and one issue per
webhook, each contact linked to its own Telegram user (so Telegram's 1 message/s per chat never
delays a request), through `Links.write` as `okrate link import` would.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from base.consumer_lag import group_lag
from base.links import Links, link_record
from base.names import streams_app_id
from base.settings import load_settings
from base.topic_reader import read_to_end
from bench.common import percentile, write_result
from bench.okrate_run import OkrateRun
from bench.sandbox_client import (
    SandboxClient,
    bounded,
    issue_of_request,
    rating_buttons,
    request_id_of,
)
from sandbox.webhooks import build_webhook, encode_body
from schemas.codec import DecodeError, decode
from schemas.records import (
    OkdeskWebhookEnvelope,
    RatingRecorded,
    RatingRequested,
    TelegramUpdateEnvelope,
)
from schemas.topics import (
    CONTACT_LINKS,
    ISSUE_EVENTS,
    OKDESK_EVENTS,
    RATING_RECORDED,
    RATING_REQUESTED,
    REQUESTS_BY_CONTACT,
    REQUESTS_BY_ISSUE,
    TELEGRAM_UPDATES,
)

RATE = float(os.environ.get("BENCH_E2E_RATE", "20"))
SECONDS = float(os.environ.get("BENCH_E2E_SECONDS", "300"))
PRESS_EVERY = int(os.environ.get("BENCH_E2E_PRESS_EVERY", "10"))
PRESS_AFTER_S = 2.0  # a user reads the message before pressing
WARMUP = 20
FLOOR_P99_MS = 500.0
USER_BASE = 700_000_000  # Telegram user of contact c: USER_BASE + c


def _stats(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "p50_ms": _r(percentile(values, 50)), "p90_ms": _r(percentile(values, 90)),
        "p99_ms": _r(percentile(values, 99)), "max_ms": _r(max(values) if values else None),
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class Bench:
    def __init__(self, run: OkrateRun, sandbox: SandboxClient, http: aiohttp.ClientSession):
        self.run, self.sandbox, self.http = run, sandbox, http
        self.settings = load_settings(_env_file=None, kafka_bootstrap_servers=run.bootstrap, topic_prefix="",
                                      topic_partitions=8)
        self.issues: list[tuple[int, int]] = []  # (issue id, contact id)
        self.posted: dict[int, float] = {}  # issue → time.time() just before its POST
        self.answered: dict[int, tuple[int, float]] = {}  # issue → (HTTP status, seconds)
        self.pressed: dict[str, float] = {}  # request id → time.time() just before the press
        self.press_failures: list[str] = []

    async def seed(self, n: int) -> None:
        async def one(i: int) -> tuple[int, int]:
            contact = await self.sandbox.add_contact(f"Клиент{i}", "Бенчмарков")
            issue = await self.sandbox.add_issue(f"Заявка бенчмарка {i}", contact)
            return issue, contact

        self.issues = await bounded(16, [lambda i=i: one(i) for i in range(n)])
        links = [link_record(str(c), "linked", "import", USER_BASE + c) for _, c in self.issues]
        await asyncio.to_thread(Links(self.settings, self.run.bootstrap).write, links)
        # The streams worker must have taken the links in before the clock starts.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            lag = await asyncio.to_thread(group_lag, self.run.bootstrap, streams_app_id(self.settings),
                                          [CONTACT_LINKS.full_name(self.settings)])
            if sum(lag.values()) == 0:
                return
            await asyncio.sleep(1.0)
        raise TimeoutError("the streams worker did not consume contact.links within 120 s")

    async def post(self, issue: int, contact: int) -> None:
        body = encode_body(build_webhook("okdesk", issue, "completed", "opened", contact, 147, title=f"Заявка {issue}"))
        began = time.time()
        self.posted[issue] = began
        try:
            async with self.http.post(self.run.webhook_url, data=body,
                                      headers={"Content-Type": "application/json; charset=utf-8"}) as response:
                await response.read()
                self.answered[issue] = (response.status, time.time() - began)
        except aiohttp.ClientError:
            self.answered[issue] = (0, time.time() - began)

    async def press_later(self, issue: int, contact: int) -> None:
        """As the user: wait for the message, read it a moment, press ⭐⭐⭐⭐⭐."""
        await asyncio.sleep(PRESS_AFTER_S)
        user = USER_BASE + contact
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            chat = await self.sandbox.chat(user)
            for message in (chat or {}).get("messages", []):
                buttons = [d for d in rating_buttons(message) if d.startswith(f"r:{issue}.")]
                if buttons:
                    data = next((d for d in buttons if d.endswith(":5")), buttons[-1])
                    request_id = data[2:].rsplit(":", 1)[0]
                    self.pressed[request_id] = time.time()
                    status, answer = await self.sandbox.press(user, message["message_id"], data)
                    if status != 200:
                        self.press_failures.append(f"{issue}: {status} {str(answer)[:200]}")
                    return
            await asyncio.sleep(0.5)
        self.press_failures.append(f"{issue}: no rating message within 60 s")

    async def offered(self, issues: list[tuple[int, int]], rate: float, press_every: int) -> float:
        tasks = []
        begin = time.perf_counter()
        for i, (issue, contact) in enumerate(issues):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.post(issue, contact)))
            if press_every and i % press_every == press_every - 1:
                tasks.append(asyncio.create_task(self.press_later(issue, contact)))
        await asyncio.gather(*tasks)
        return time.perf_counter() - begin

    async def wait_settled(self, want_requests: set[int], want_comments: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sends = await self.sandbox.telegram_calls("sendMessage")
            sent = {int(issue_of_request(r)) for c in sends if c["status"] == 200
                    and (r := request_id_of(c["params"])) is not None}
            comments = await self.sandbox.okdesk_calls("add_comment")
            commented = {rid for c in comments for rid in want_comments if f"[okrate:{rid}]" in _content(c)}
            if want_requests <= sent and want_comments <= commented:
                return
            await asyncio.sleep(2.0)


def _content(call: dict[str, Any]) -> str:
    body = call["params"].get("body") or {}
    inner = body.get("comment") if isinstance(body.get("comment"), dict) else body
    return str(inner.get("content", ""))


def _kafka_times(bootstrap: str, settings) -> dict[str, dict[str, float]]:
    """Per issue / request: when each hop's record was written (the producer's timestamp)."""
    out: dict[str, dict[str, float]] = {"ingest": {}, "requested": {}, "update": {}, "recorded": {}}
    for m in read_to_end(bootstrap, OKDESK_EVENTS.full_name(settings)):
        try:
            env = decode(m.value, (OkdeskWebhookEnvelope,))
        except DecodeError:
            continue
        if env.issue_id and env.event_type == "new_ticket_status":
            out["ingest"].setdefault(env.issue_id, env.received_at.timestamp())
    for hop, spec in (("issue_event", ISSUE_EVENTS), ("by_contact", REQUESTS_BY_CONTACT),
                      ("by_issue", REQUESTS_BY_ISSUE), ("requested", RATING_REQUESTED)):
        first = out.setdefault(hop, {})
        for m in read_to_end(bootstrap, spec.full_name(settings)):
            try:
                rec = decode(m.value)
            except DecodeError:
                continue
            if hop == "issue_event" or (isinstance(rec, RatingRequested) and (rec.deliverable or hop == "by_contact")):
                first.setdefault(rec.issue_id, m.timestamp_ms / 1000)
    for m in read_to_end(bootstrap, TELEGRAM_UPDATES.full_name(settings)):
        try:
            env = decode(m.value, (TelegramUpdateEnvelope,))
        except DecodeError:
            continue
        try:
            data = str(json.loads(env.body).get("callback_query", {}).get("data") or "")
        except (ValueError, AttributeError):
            continue
        if data.startswith("r:"):
            out["update"].setdefault(data[2:].rsplit(":", 1)[0], m.timestamp_ms / 1000)
    for m in read_to_end(bootstrap, RATING_RECORDED.full_name(settings)):
        try:
            rec = decode(m.value, (RatingRecorded,))
        except DecodeError:
            continue
        out["recorded"].setdefault(rec.request_id, m.timestamp_ms / 1000)
    return out


def _windows(measured: list[tuple[int, int]], posted: dict[int, float], first_send: dict[str, float],
             seconds: float) -> list[dict[str, Any]]:
    """p50/p99 of webhook → request in each tenth of the run: a growing figure is a queue that grows."""
    out = []
    size = max(1, len(measured) // 10)
    for start in range(0, len(measured), size):
        chunk = [(first_send[str(i)] - posted[i]) * 1000 for i, _ in measured[start:start + size]
                 if i in posted and str(i) in first_send]
        out.append({"from_s": round(start / len(measured) * seconds, 1), "p50_ms": _r(percentile(chunk, 50)),
                    "p99_ms": _r(percentile(chunk, 99))})
    return out


async def _measure(run: OkrateRun, rate: float, seconds: float, press_every: int) -> dict[str, Any]:
    n = int(rate * seconds)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        bench = Bench(run, SandboxClient(http, run.okdesk, run.telegram), http)
        seeding = time.monotonic()
        await bench.seed(WARMUP + n)
        print(f"seeded {WARMUP + n} contacts, issues and links in {time.monotonic() - seeding:.1f}s", flush=True)
        warm, measured = bench.issues[:WARMUP], bench.issues[WARMUP:]
        await bench.offered(warm, 5.0, 2)  # warm-up: connections, metadata, the first assignment
        await bench.wait_settled({i for i, _ in warm}, set(bench.pressed), 120)
        warm_pressed = set(bench.pressed)
        print(f"offering {n} webhooks at {rate:g}/s for {seconds:g}s", flush=True)
        cpu_before = await asyncio.to_thread(run.cpu_seconds)
        wall = await bench.offered(measured, rate, press_every)
        cpu_after = await asyncio.to_thread(run.cpu_seconds)
        want = {i for i, _ in measured if bench.answered.get(i, (0,))[0] == 200}
        want_comments = set(bench.pressed) - warm_pressed
        await bench.wait_settled(want, want_comments, 180)
        sends = await bench.sandbox.telegram_calls("sendMessage")
        comments = await bench.sandbox.okdesk_calls("add_comment")
    first_send: dict[str, float] = {}
    for call in sends:
        request_id = request_id_of(call["params"])
        if call["status"] == 200 and request_id is not None:
            first_send.setdefault(issue_of_request(request_id), call["at"])
    first_comment: dict[str, float] = {}
    for call in comments:
        text = _content(call)
        if call["status"] == 200 and "[okrate:" in text:
            request_id = text.split("[okrate:", 1)[1].split("]", 1)[0]
            first_comment.setdefault(request_id, call["at"])
    hops = await asyncio.to_thread(_kafka_times, run.bootstrap, bench.settings)

    to_send, post_ms, to_ingest, to_requested, requested_to_send, missing = [], [], [], [], [], []
    streams_hops: dict[str, list[float]] = {}
    for issue, _ in measured:
        status, took = bench.answered.get(issue, (0, 0.0))
        if status != 200:
            continue
        post_ms.append(took * 1000)
        key, t0 = str(issue), bench.posted[issue]
        if key not in first_send:
            missing.append(issue)
            continue
        to_send.append((first_send[key] - t0) * 1000)
        if key in hops["ingest"] and key in hops["requested"]:
            to_ingest.append((hops["ingest"][key] - t0) * 1000)
            to_requested.append((hops["requested"][key] - hops["ingest"][key]) * 1000)
            previous = hops["ingest"][key]
            for hop in ("issue_event", "by_contact", "by_issue", "requested"):
                if key in hops[hop]:
                    streams_hops.setdefault(hop, []).append((hops[hop][key] - previous) * 1000)
                    previous = hops[hop][key]
            requested_to_send.append((first_send[key] - hops["requested"][key]) * 1000)
    windows = _windows(measured, bench.posted, first_send, seconds)
    to_comment, to_update, update_to_recorded, recorded_to_comment, no_comment = [], [], [], [], []
    for request_id, t0 in bench.pressed.items():
        if request_id in warm_pressed:
            continue
        if request_id not in first_comment:
            no_comment.append(request_id)
            continue
        to_comment.append((first_comment[request_id] - t0) * 1000)
        if request_id in hops["update"] and request_id in hops["recorded"]:
            to_update.append((hops["update"][request_id] - t0) * 1000)
            update_to_recorded.append((hops["recorded"][request_id] - hops["update"][request_id]) * 1000)
            recorded_to_comment.append((first_comment[request_id] - hops["recorded"][request_id]) * 1000)
    statuses: dict[str, int] = {}
    for issue, _ in measured:
        code = str(bench.answered.get(issue, (0,))[0])
        statuses[code] = statuses.get(code, 0) + 1
    webhook = _stats(to_send)
    return {
        "offered_rate_per_s": rate, "seconds": seconds, "webhooks": n, "wall_clock_s": round(wall, 1),
        "webhook_statuses": statuses, "press_every": press_every, "presses": len(bench.pressed) - len(warm_pressed),
        "press_failures": bench.press_failures[:10],
        "webhook_to_send_message": {**webhook, "missing": len(missing)},
        "press_to_comment": {**_stats(to_comment), "missing": len(no_comment)},
        "breakdown_webhook_ms": {
            "ingest_http_answer": _stats(post_ms),
            "post_to_envelope_received_at": _stats(to_ingest),
            "envelope_to_rating_requested_written": _stats(to_requested),
            "rating_requested_to_send_message": _stats(requested_to_send),
        },
        # Inside the streams worker, each hop from the previous record's write to this one's:
        # normalise (okdesk.events → issue.events), decide (→ requests.by-contact), address
        # (→ requests.by-issue), then the issue agent again (→ rating.requested).
        "streams_hops_ms": {f"to_{hop}": _stats(v) for hop, v in streams_hops.items()},
        "breakdown_press_ms": {
            "press_to_update_written_by_poller": _stats(to_update),
            "update_to_rating_recorded_written": _stats(update_to_recorded),
            "rating_recorded_to_comment": _stats(recorded_to_comment),
        },
        "webhook_to_send_by_tenth_of_the_run": windows,
        "cpu_share_during_load": {name: round((cpu_after[name] - cpu_before.get(name, 0.0)) / wall, 2)
                                  for name in cpu_after},
        "telegram_calls": {"sendMessage": len(sends), "sendMessage_429": sum(1 for c in sends if c["status"] == 429)},
        "floors": {"p99_webhook_to_send_ms_max": FLOOR_P99_MS},
        "floors_met": {"p99_webhook_to_send": webhook["p99_ms"] is not None and webhook["p99_ms"] <= FLOOR_P99_MS
                       and not missing},
    }


def main() -> dict:
    with tempfile.TemporaryDirectory(prefix="okrate-bench-e2e-") as tmp:
        run = OkrateRun(Path(tmp), log=lambda m: print(m, flush=True))
        try:
            run.start()
            result = asyncio.run(_measure(run, RATE, SECONDS, PRESS_EVERY))
        finally:
            run.stop()
    result["p50_ms"] = result["webhook_to_send_message"]["p50_ms"]
    result["p99_ms"] = result["webhook_to_send_message"]["p99_ms"]
    result["press_p50_ms"] = result["press_to_comment"]["p50_ms"]
    result["press_p99_ms"] = result["press_to_comment"]["p99_ms"]
    write_result("e2e", result)
    return result


if __name__ == "__main__":
    main()
