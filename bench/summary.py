"""The README's table of the latest benchmark figures, from bench/results/*.json."""

from __future__ import annotations

import json
from typing import Any

from bench.common import RESULTS


def _ingest(r: dict[str, Any]) -> str:
    if "durable_baseline" not in r:  # results written before the durable baseline existed
        fixed, sat = r["ingest"]["fixed_500_per_s"], r["ingest"]["saturation"]
        return (f"at 500/s offered: p50 {fixed['p50_ms']} ms, p99 {fixed['p99_ms']} ms; saturation "
                f"{sat['per_second']}/s = {r['saturation_ratio']:.2f} × a bare aiohttp handler ({r['bare_aiohttp']['saturation']['per_second']}/s)")
    ing, dur, bare, two = r["ingest"], r["durable_baseline"], r["bare_aiohttp"], r["ingest_2_workers"]
    q = r["ratios"]
    return (f"saturation {ing['saturation']['per_second']:,.0f}/s = {q['saturation_to_durable']:.2f} × the durable baseline "
            f"({dur['saturation']['per_second']:,.0f}/s; bare handler {bare['saturation']['per_second']:,.0f}/s); "
            f"at 500/s offered: p99 {ing['fixed_500_per_s']['p99_ms']} ms = {q['p99_at_500_to_durable']:.2f} × the durable "
            f"baseline's ({dur['fixed_500_per_s']['p99_ms']} ms); `--workers 2`: {two['saturation']['per_second']:,.0f}/s "
            f"({r['slices']} interleaved slices of {r['slice_seconds']:g} s per server and phase; slice by slice "
            f"{r['ratios_spread_over_slices']['saturation_to_durable'][0]:.2f}–{r['ratios_spread_over_slices']['saturation_to_durable'][1]:.2f} × at saturation)"
            + (f"; CPU per answer: ingest {ing['saturation']['cpu_us_per_answer']:,.0f} µs, durable baseline "
               f"{dur['saturation']['cpu_us_per_answer']:,.0f} µs (ratio {q['cpu_per_answer_durable_to_ingest']:.2f})" if "cpu_per_answer_durable_to_ingest" in q else ""))


def _streams(r: dict[str, Any]) -> str:
    out = (f"{r['events']:,} raw events → rating.requested at {r['worker_events_per_s']:,.0f} events/s on one worker "
           f"({r['store']}")
    if "loop" in r:
        out += f", {r['loop']}{', cython' if r.get('cython_optimizations') else ''}"
    out += ")"
    if "ratio_to_bare_faust_step" in r and "bare_faust_agent_consume_decode_send_per_s" in r:
        out += (f" = {r['ratio_to_bare_faust_step']:g} × one bare Faust agent that consumes, decodes and sends "
                f"({r['bare_faust_agent_consume_decode_send_per_s']:,.0f}/s; consume+decode alone "
                f"{r['bare_faust_agent_consume_decode_per_s']:,.0f}/s)")
    out += f"; a bare confluent-kafka consume+decode loop: {r['bare_consume_decode_per_s']:,.0f}/s"
    if r.get("two_workers_events_per_s"):
        out += f"; two workers: {r['two_workers_events_per_s']:,.0f}/s = {r['two_workers_ratio']:g} × one"
    if r.get("plain_asyncio_no_cython_events_per_s"):
        out += f"; one worker on plain asyncio without Cython paths: {r['plain_asyncio_no_cython_events_per_s']:,.0f}/s"
    if r.get("start_seconds") is not None:
        out += (f" (every rate timed from its first event; the workers' start before it: {r['start_seconds']:g} s"
                + (f", two workers {r['two_workers_start_seconds']:g} s" if r.get("two_workers_start_seconds") else "")
                + ")")
    return out


def _notifier(r: dict[str, Any]) -> str:
    press = r["callback_answer_latency_s"]
    return (f"{r['requests']:,} requests to {r['chats']:,} chats against the Bot API stand-in's limits: "
            f"{r['messages_per_second']} messages/s (floor 28), {r['http_429_received']} × 429; one chat: gaps "
            f"≥ {r['one_chat']['min_gap_s']} s; press answers during the backlog: p99 {press['p99'] * 1000:.1f} ms")


def _e2e(r: dict[str, Any]) -> str:
    w, p = r["webhook_to_send_message"], r["press_to_comment"]
    return (f"webhook → sendMessage at {r['offered_rate_per_s']:g}/s for {r['seconds']:g} s: p50 {w['p50_ms']} ms, "
            f"p99 {w['p99_ms']} ms ({w['missing']} missing); press → Okdesk comment: p50 {p['p50_ms']} ms, "
            f"p99 {p['p99_ms']} ms")


def _replay(r: dict[str, Any]) -> str:
    out = (f"refold of {r['decision_events']:,} decision events ({r['issues']:,} issues): "
           f"{r['events_per_second']:,.0f} events/s")
    if "refold_to_bare_consume_decode" in r:
        out += (f" = {r['refold_to_bare_consume_decode']:.2f} × a bare consume+decode loop of the same run "
                f"({r['bare_consume_decode_per_s']:,.0f}/s)")
    out += f", peak RSS {r['peak_rss_mib_sampled']:,.0f} MiB"
    if "table_issues" in r:
        out += (f"; {r['table_issues']:,} issues in each issue table (restored in {r['tables_restore_seconds']:g} s): "
                f"peak RSS {r.get('peak_rss_mib_worker', r['rss_mib_peak_with_tables']):,.0f} MiB")
    return out


def _generic(r: dict[str, Any]) -> str:
    skip = {"benchmark", "at", "machine", "floors", "floors_met", "floor_met", "note"}
    parts = [f"{k}: {v}" for k, v in r.items() if k not in skip and not isinstance(v, (dict, list))]
    return "; ".join(parts)[:400]


FORMATS = {"ingest": _ingest, "streams": _streams, "notifier": _notifier, "e2e": _e2e, "replay": _replay}


def benchmarks_markdown() -> str:
    rows = ["| benchmark | figures | floors met | machine, date |", "|---|---|---|---|"]
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text())
        name = result.get("benchmark", path.stem)
        floors = result.get("floors_met", result.get("floor_met"))
        if isinstance(floors, dict):
            met = ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in floors.items())
        else:
            met = "—" if floors is None else ("yes" if floors else "no")
        machine = result.get("machine", {})
        where = f"{machine.get('cores')} cores, {machine.get('cpu', '?')}, {result.get('at', '?')[:10]}"
        rows.append(f"| `{name}` | {FORMATS.get(name, _generic)(result)} | {met} | {where} |")
    if len(rows) == 2:
        rows.append("| (none yet) | run `okrate bench all` | | |")
    return "\n".join(rows)
