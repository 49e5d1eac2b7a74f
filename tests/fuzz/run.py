"""`python -m tests.fuzz` (`make fuzz`): hostile input at volume against the whole pipeline.

`okrate run` in sandbox mode on a broker of its own (bench.okrate_run, as `make chaos`), with a
webhook secret and a Telegram webhook secret set. Then, from a seed (`FUZZ_SEED`):
- generated HTTP requests to the ingest's Okdesk webhook: both dialects mutated field by field
  (types, nulls, huge and deep values, odd Unicode, lone surrogates, numbers as strings), raw
  bytes, other JSON, oversized bodies, wrong methods, signatures and URL-token variants, and on
  raw sockets truncated bodies, lying lengths and slow senders;
- generated Telegram updates to the ingest's Telegram webhook path (forged callback data, presses
  on messages that never existed, edited messages, channel posts, groups, stickers and photos,
  contacts that are not the sender's, commands with arguments, 4,096-character texts), and
  through the Bot API stand-in (`getUpdates`): texts and presses with forged data from users who
  are no request's recipient.
Afterwards, once nothing moves: every answer in {200, 400, 401, 405, 408, 413} (503 never: the
broker stays up); every 200 stored once, byte for byte; nothing stored for a refusal; no service
restarted; every consumer group caught up (lag 0); no rating recorded and no Okdesk write (no
input was a genuine press); every stored webhook and press ended as a decision or a dead letter
naming its position; no secret and no traceback in any log line. Figures: inputs per kind, answers by
status, dead letters by reason, time, and time per 1,000 inputs. Exit 1 on any finding.

Scale: `FUZZ_SCALE` (1.0: 100,000 HTTP requests and 20,000 updates; CI uses a fraction),
`FUZZ_CONCURRENCY` (32), `FUZZ_KEEP=1` keeps the scratch folder.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp

from base.consumer_lag import group_lag
from base.names import streams_app_id
from base.settings import load_settings
from bench.okrate_run import OkrateRun
from schemas.codec import DecodeError, decode
from schemas.records import (
    DeadLetter,
    IssueEvent,
    OkdeskWebhookEnvelope,
    RatingReceived,
    RatingRecorded,
    ReasonGiven,
    SideEffectIntent,
    TelegramUpdateEnvelope,
)
from schemas.topics import (
    CONTACT_LINKS,
    DEADLETTER,
    ISSUE_EVENTS,
    NOTIFIER_OUTCOMES,
    OKDESK_EVENTS,
    RATING_RECEIVED,
    RATING_RECORDED,
    RATING_REQUESTED,
    REQUESTS_BY_CONTACT,
    REQUESTS_BY_ISSUE,
    TELEGRAM_UPDATES,
)
from tests.fuzz.generate import Http, Press, Text, forged_callback, telegram_update, webhook_request
from tests.kafka_helpers import read_topic

WEBHOOK_SECRET = "fuzz-webhook-secret-3f9a"
TELEGRAM_SECRET = "fuzz-telegram-secret-77c1"
MAX_BYTES = 64 * 1024
ALLOWED = {200, 400, 401, 405, 408, 413}
FULL_HTTP, FULL_UPDATES = 100_000, 20_000
STAND_IN_SHARE = 0.1  # of the updates, through the Bot API stand-in (the rest through the ingest)
FUZZ_USERS = list(range(7_000_001, 7_000_041))  # nobody's recipient (the demo client is another user)


def _say(message: str) -> None:
    print(f"[fuzz {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _digest(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


class Tally:
    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.findings: list[str] = []
        self.accepted_okdesk: Counter[bytes] = Counter()
        self.accepted_telegram: Counter[bytes] = Counter()

    def answer(self, request: Http, status: int | str) -> None:
        self.kinds[request.kind.split("/")[0] + "/" + request.kind.split("/")[1]] += 1
        self.statuses[str(status)] += 1
        if isinstance(status, int) and status not in ALLOWED and len(self.findings) < 50:
            self.findings.append(f"{request.kind} {request.method} {request.path[:60]}: answered {status}")
        if status == 200 and request.method == "POST":
            (self.accepted_telegram if request.telegram else self.accepted_okdesk)[_digest(request.body)] += 1


async def _send_raw(port: int, request: Http) -> int | str:
    """On a socket of its own: the lying request as is, or the body a byte at a time."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if request.slow:
            head = (f"{request.method} {request.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Content-Length: {len(request.body)}\r\nContent-Type: application/json\r\n\r\n").encode()
            writer.write(head)
            for byte in request.body[:40]:  # a slow sender: the ingest gives up (408), we do not wait for it
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.5)
        else:
            assert request.raw is not None
            writer.write(request.raw)
            await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        line = await asyncio.wait_for(reader.readline(), 30)
        if not line:
            return "closed"
        return int(line.split()[1])
    except (ConnectionError, TimeoutError, IndexError, ValueError):
        return "closed"
    finally:
        writer.close()


async def _send(http: aiohttp.ClientSession, base: str, port: int, request: Http) -> int | str:
    if request.raw is not None or request.slow:
        return await _send_raw(port, request)
    try:
        async with http.request(request.method, base + request.path, data=request.body or None,
                                headers=request.headers, skip_auto_headers=["Content-Type"]) as response:
            await response.read()
            return response.status
    except aiohttp.ClientError as exc:
        return f"client-error:{type(exc).__name__}"


def inputs(seed: int, http_count: int, update_count: int, settings) -> Iterator[Http | Press | Text]:
    """The drill's inputs, each generated from the seed and its position (none is kept in memory)."""
    total = http_count + update_count
    request_ids = [f"{i}.0.1" for i in (1380, 1381, 1390)] + [f"{i * 7919}.0.1" for i in range(1, 21)]
    for n in range(total):
        rng = random.Random(f"{seed}:{n}")
        if rng.random() < http_count / total:
            yield webhook_request(rng, settings.webhook_path, WEBHOOK_SECRET, MAX_BYTES)
        elif rng.random() < STAND_IN_SHARE:
            user = rng.choice(FUZZ_USERS)
            if rng.random() < 0.5:
                yield Press("stand-in/press", user, forged_callback(rng, request_ids))
            else:
                yield Text("stand-in/text", user, rng.choice(["/start", "/new", "/stop", "hi", "я" * 4096]))
        else:
            shape, update = telegram_update(rng, 900_000_000 + n, FUZZ_USERS, request_ids)
            body = json.dumps(update, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
            secret = rng.choices([TELEGRAM_SECRET, "", TELEGRAM_SECRET + "x", None], [85, 5, 5, 5])[0]
            headers = {"Content-Type": "application/json"}
            if secret is not None:
                headers["X-Telegram-Bot-Api-Secret-Token"] = secret
            yield Http(f"telegram/{shape}", "POST", settings.telegram_webhook_path, headers, body, telegram=True)


async def _stand_in(http: aiohttp.ClientSession, page: str, item: Press | Text, made: set[int]) -> str:
    if item.user not in made:
        async with http.post(f"{page}/api/telegram/users", json={"id": item.user, "first_name": "Fuzz"}) as r:
            await r.read()
        made.add(item.user)
    if isinstance(item, Press):
        payload = {"data": item.data, "message_id": random.randrange(1, 10**6)}
        url = f"{page}/api/telegram/chats/{item.user}/press"
    else:
        payload, url = {"text": item.text}, f"{page}/api/telegram/chats/{item.user}/send"
    async with http.post(url, json=payload) as response:
        await response.read()
        return str(response.status)


async def _drive(run: OkrateRun, items: Iterator, total: int, tally: Tally, concurrency: int) -> None:
    made: set[int] = set()
    stand_in: Counter[str] = Counter()
    sent = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency),
                                     timeout=aiohttp.ClientTimeout(total=60)) as http:
        async def worker() -> None:
            nonlocal sent
            for item in items:  # one iterator shared by the workers (one thread: no race)
                if isinstance(item, Http):
                    tally.answer(item, await _send(http, run.ingest, run.ingest_port, item))
                else:
                    tally.kinds[item.kind] += 1
                    stand_in[await _stand_in(http, run.page, item, made)] += 1
                sent += 1

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        last = time.monotonic()
        while not all(w.done() for w in workers):
            await asyncio.sleep(1)
            if time.monotonic() - last >= 30:
                last = time.monotonic()
                _say(f"  {sent}/{total} sent")
        for w in workers:
            w.result()
    for status, n in stand_in.items():
        tally.statuses[f"stand-in {status}"] += n


def _lags(bootstrap: str, settings) -> dict[str, int]:
    from notifier.service import group_id

    wanted = {
        streams_app_id(settings): (OKDESK_EVENTS, TELEGRAM_UPDATES, CONTACT_LINKS, RATING_RECEIVED,
                                   REQUESTS_BY_CONTACT, REQUESTS_BY_ISSUE),
        group_id(settings, "requests"): (RATING_REQUESTED,),
        group_id(settings, "decisions"): (RATING_RECORDED,),
        group_id(settings, "conversations"): (TELEGRAM_UPDATES,),
        group_id(settings, "callbacks"): (TELEGRAM_UPDATES,),
    }
    return {g: sum(group_lag(bootstrap, g, [s.full_name(settings) for s in specs]).values()) for g, specs in wanted.items()}


async def _caught_up(run: OkrateRun, settings, timeout: float) -> dict[str, int]:
    deadline, lags, zero_since = time.monotonic() + timeout, {}, None
    while time.monotonic() < deadline:
        lags = await asyncio.to_thread(_lags, run.bootstrap, settings)
        if not any(lags.values()):
            zero_since = zero_since or time.monotonic()
            if time.monotonic() - zero_since >= 10:
                return lags
        else:
            zero_since = None
        await asyncio.sleep(2)
    return lags


def _records(bootstrap: str, topic: str) -> list:
    out = []
    for message in read_topic(bootstrap, topic):
        try:
            out.append(decode(message.value))
        except DecodeError:
            out.append(None)
    return out


def _positioned(bootstrap: str, topic: str, kind: type) -> list[tuple[int, int, object]]:
    out = []
    for message in read_topic(bootstrap, topic):
        try:
            record = decode(message.value, (kind,))
        except DecodeError:
            continue
        out.append((message.partition, message.offset, record))
    return out


def _fates(bootstrap: str, settings, dead: list[DeadLetter], tally: Tally) -> Counter:
    """Every stored input ended somewhere: a webhook as an issue event (or, about another entity
    than an issue, ignored as normalising says) or a dead letter naming its position; a press as a
    claim in `rating.received` or a dead letter. Updates that are no press are the notifier's
    conversations, which answer and record nothing per update: not counted here."""
    raw_topic, updates_topic = OKDESK_EVENTS.full_name(settings), TELEGRAM_UPDATES.full_name(settings)
    letters = {(d.source_topic, d.source_partition, d.source_offset) for d in dead}
    normalised = {(e.source_partition, e.source_offset)
                  for _p, _o, e in _positioned(bootstrap, ISSUE_EVENTS.full_name(settings), IssueEvent)
                  if isinstance(e, IssueEvent) and e.source_topic in (raw_topic, OKDESK_EVENTS.name)}
    fates: Counter = Counter()
    lost: list[str] = []
    for partition, offset, envelope in _positioned(bootstrap, raw_topic, OkdeskWebhookEnvelope):
        if (partition, offset) in normalised:
            fates["webhook → issue event"] += 1
        elif (raw_topic, partition, offset) in letters:
            fates["webhook → dead letter"] += 1
        elif _ignored(envelope, raw_topic, partition, offset):
            fates["webhook → ignored (not about an issue)"] += 1
        else:
            lost.append(f"{raw_topic}/{partition}/{offset}")
    claimed = {r.update_id for r in records_of(bootstrap, RATING_RECEIVED.full_name(settings))
               if isinstance(r, RatingReceived | ReasonGiven)}
    for partition, offset, envelope in _positioned(bootstrap, updates_topic, TelegramUpdateEnvelope):
        if not isinstance(envelope, TelegramUpdateEnvelope) or envelope.kind != "callback_query":
            continue
        if envelope.update_id in claimed:
            fates["press → claim"] += 1
        elif (updates_topic, partition, offset) in letters:
            fates["press → dead letter"] += 1
        elif _conversation(envelope):
            fates["press → the notifier's conversation"] += 1
        else:
            lost.append(f"{updates_topic}/{partition}/{offset} (update {envelope.update_id})")
    if lost:
        tally.findings.append(f"{len(lost)} stored inputs ended neither as a decision nor as a dead letter, "
                              f"e.g. {', '.join(lost[:5])}")
    return fates


def _ignored(envelope: OkdeskWebhookEnvelope, topic: str, partition: int, offset: int) -> bool:
    from streams.rules.normalise import NotUnderstood, Position, normalise

    try:
        return normalise(envelope, Position(topic, partition, offset)) is None
    except NotUnderstood:
        return False


def _conversation(envelope: TelegramUpdateEnvelope) -> bool:
    from schemas.callback_data import is_conversation

    try:
        data = json.loads(envelope.body)["callback_query"]["data"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(data, str) and is_conversation(data)


def records_of(bootstrap: str, topic: str) -> list:
    return [r for r in _records(bootstrap, topic) if r is not None]


def check(run: OkrateRun, settings, tally: Tally, secrets: list[str], workdir: Path,
          drill_began_at: int) -> dict[str, Counter]:
    figures: dict[str, Counter] = {}
    stored_okdesk = Counter(_digest(r.body) for r in _records(run.bootstrap, OKDESK_EVENTS.full_name(settings))
                            if isinstance(r, OkdeskWebhookEnvelope))
    if stored_okdesk != tally.accepted_okdesk:
        extra, missing = stored_okdesk - tally.accepted_okdesk, tally.accepted_okdesk - stored_okdesk
        tally.findings.append(f"okdesk.events: {sum(extra.values())} stored but not answered 200, "
                              f"{sum(missing.values())} answered 200 but not stored once, byte for byte")
    updates = [r for r in _records(run.bootstrap, TELEGRAM_UPDATES.full_name(settings))
               if isinstance(r, TelegramUpdateEnvelope)]
    stored_webhook = Counter(_digest(r.body) for r in updates if r.source == "webhook")
    if stored_webhook != tally.accepted_telegram:
        extra, missing = stored_webhook - tally.accepted_telegram, tally.accepted_telegram - stored_webhook
        tally.findings.append(f"telegram.updates (webhook): {sum(extra.values())} stored but not answered 200, "
                              f"{sum(missing.values())} answered 200 but not stored once, byte for byte")
    figures["stored"] = Counter({"okdesk.events": sum(stored_okdesk.values()),
                                 "telegram.updates (webhook)": sum(stored_webhook.values()),
                                 "telegram.updates (polled)": sum(1 for r in updates if r.source != "webhook")})
    dead = [r for r in _records(run.bootstrap, DEADLETTER.full_name(settings)) if isinstance(r, DeadLetter)]
    figures["dead letters by reason"] = Counter(f"{d.consumer or d.source_topic}: {d.reason[:60]}" for d in dead)
    figures["what each stored input became"] = _fates(run.bootstrap, settings, dead, tally)
    recorded = [r for r in _records(run.bootstrap, RATING_RECORDED.full_name(settings)) if isinstance(r, RatingRecorded)]
    fuzzers = set(FUZZ_USERS)
    wrong = [r for r in recorded if r.from_user_id in fuzzers]
    if wrong:
        tally.findings.append(f"{len(wrong)} ratings recorded for users who were no request's recipient")
    writes = [r for r in _records(run.bootstrap, NOTIFIER_OUTCOMES.full_name(settings))
              if isinstance(r, SideEffectIntent) and r.kind.startswith("okdesk.")]
    if writes:
        tally.findings.append(f"{len(writes)} Okdesk writes, yet no input was a genuine press: "
                              f"{Counter(w.kind for w in writes)}")
    figures["decisions"] = Counter({"ratings recorded": len(recorded), "okdesk writes": len(writes)})
    log_text = "\n".join(p.read_text(errors="replace") for p in workdir.rglob("*.log"))
    for secret in secrets:
        if secret and secret in log_text:
            tally.findings.append(f"a secret ({secret[:4]}…) appears in a log")
    tracebacks = [n for n, line in enumerate(log_text.splitlines()) if line.startswith("Traceback")]
    if tracebacks:  # hostile input is the client's fault: answered and logged in a line, never a crash report
        lines = log_text.splitlines()
        tally.findings.append(f"{len(tracebacks)} tracebacks in the logs, e.g. {' | '.join(lines[tracebacks[0] - 1:tracebacks[0] + 12])[:1500]}")
    during = run.run_log.read_bytes()[drill_began_at:].decode(errors="replace")
    exits = [line for line in during.splitlines() if "exited with" in line]
    if exits:
        tally.findings.append(f"{len(exits)} service exits during the drill, e.g. {exits[0]}")
    before = [line for line in run.run_log.read_bytes()[:drill_began_at].decode(errors="replace").splitlines()
              if "exited with" in line]
    if before:
        _say(f"note: {len(before)} service exits while okrate run started (before any input), e.g. {before[0]}")
    return figures


def _table(title: str, counts: Counter) -> str:
    lines = [title]
    for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {n:>8}  {key}")
    return "\n".join(lines)


def main() -> int:
    started = time.monotonic()
    scale = float(os.environ.get("FUZZ_SCALE", "1"))
    seed = int(os.environ.get("FUZZ_SEED", "26"))
    concurrency = int(os.environ.get("FUZZ_CONCURRENCY", "32"))
    keep = os.environ.get("FUZZ_KEEP") == "1"
    workdir = Path(tempfile.mkdtemp(prefix="okrate-fuzz-"))

    def terminated(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminated)
    run = OkrateRun(workdir, log=_say, extra_env={
        "WEBHOOK_SECRET": WEBHOOK_SECRET, "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "WEBHOOK_MAX_BYTES": str(MAX_BYTES), "TOPIC_PARTITIONS": "4"})
    tally = Tally()
    figures: dict[str, Counter] = {}
    settings = load_settings(_env_file=None, kafka_bootstrap_servers=run.bootstrap, topic_prefix="",
                             topic_partitions=4, webhook_secret=WEBHOOK_SECRET, telegram_webhook_secret=TELEGRAM_SECRET)
    total = max(1, int(FULL_HTTP * scale)) + max(1, int(FULL_UPDATES * scale))
    items = inputs(seed, max(1, int(FULL_HTTP * scale)), max(1, int(FULL_UPDATES * scale)), settings)
    sending = settle = 0.0
    try:
        run.start()
        _say(f"okrate run is up; {total} inputs (scale {scale:g}, seed {seed}, concurrency {concurrency})")
        drill_began_at = run.run_log.stat().st_size
        t = time.monotonic()
        asyncio.run(_drive(run, items, total, tally, concurrency))
        sending = time.monotonic() - t
        _say(f"sent in {sending:.0f}s ({1000 * sending / total:.2f}s per 1,000); waiting for every group to catch up")
        t = time.monotonic()
        catch_up_s = max(300.0, 600.0 * scale)  # the full campaign leaves ~40,000 records to decide
        lags = asyncio.run(_caught_up(run, settings, timeout=catch_up_s))
        settle = time.monotonic() - t
        if any(lags.values()):
            tally.findings.append(f"consumer lag not back to 0 within {catch_up_s:.0f}s: {lags}")
        from sandbox.service import SandboxPorts, sandbox_env

        stand_ins = sandbox_env("127.0.0.1", SandboxPorts(run.page_port))
        secrets = [WEBHOOK_SECRET, TELEGRAM_SECRET, stand_ins["TELEGRAM_BOT_TOKEN"], stand_ins["OKDESK_API_TOKEN"]]
        run.stop_services()
        figures = check(run, settings, tally, secrets, workdir, drill_began_at)
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
    print(_table("inputs by kind", tally.kinds))
    print(_table("answers by status", tally.statuses))
    for title, counts in figures.items():
        print(_table(title, counts))
    print(f"time: {seconds:.0f}s in all; sending {sending:.0f}s ({1000 * sending / total:.2f}s per 1,000 inputs), "
          f"catching up {settle:.0f}s")
    if tally.findings:
        print("\nFINDINGS")
        for finding in tally.findings:
            print(f"- {finding}")
        return 1
    print(f"\nfuzz: no finding ({total} inputs, {seconds:.0f}s)")
    return 0


if __name__ == "__main__":
    socket.setdefaulttimeout(60)
    sys.exit(main())
