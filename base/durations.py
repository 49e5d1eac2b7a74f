"""Durations as operators write them: `500ms`, `30s`, `15m`, `24h`, `7d`, and `off`."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str, *, allow_off: bool = False) -> timedelta | None:
    """`1h30m` → 5400 s; `off` → None when the setting can be switched off."""
    value = text.strip().lower()
    if allow_off and value in {"off", "none", "disabled"}:
        return None
    if not value:
        raise ValueError("empty duration")
    pos, seconds = 0, 0.0
    for match in _PART.finditer(value):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(value):
        hint = " or off" if allow_off else ""
        raise ValueError(f"{text!r} is not a duration (write it like 500ms, 30s, 24h, 7d{hint})")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta | None) -> str:
    if delta is None:
        return "off"
    ms = round(delta.total_seconds() * 1000)
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
