"""Fault injection shared by both stand-ins: error bursts, outages and latency."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sandbox.clock import Clock, system_clock


@dataclass(frozen=True)
class Fault:
    status: int
    retry_after: int | None = None


@dataclass
class _Rule:
    fault: Fault
    methods: frozenset[str] | None
    remaining: int | None  # calls left, or None for "until `until`"
    until: float | None

    def matches(self, method: str) -> bool:
        return self.methods is None or method.lower() in self.methods


def _names(methods: Iterable[str] | None) -> frozenset[str] | None:
    return None if methods is None else frozenset(m.lower() for m in methods)


@dataclass
class FaultInjector:
    """Decides, call by call, whether a stand-in should fail instead of answering.

    ``methods`` filters are matched case-insensitively against the stand-in's method names
    (Bot API method names for Telegram, endpoint names for Okdesk).
    """

    clock: Clock = system_clock
    latency: float = 0.0
    latency_methods: frozenset[str] | None = None
    _rules: list[_Rule] = field(default_factory=list)

    def fail_next(
        self,
        count: int,
        status: int = 500,
        *,
        retry_after: int | None = None,
        methods: Iterable[str] | None = None,
    ) -> None:
        """The next ``count`` matching calls fail with ``status``."""
        self._rules.append(_Rule(Fault(status, retry_after), _names(methods), count, None))

    def fail_for(
        self,
        seconds: float,
        status: int = 503,
        *,
        retry_after: int | None = None,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Every matching call fails with ``status`` for ``seconds`` of the stand-in's clock."""
        until = self.clock() + seconds
        self._rules.append(_Rule(Fault(status, retry_after), _names(methods), None, until))

    def rate_limit_next(
        self, count: int, retry_after: int = 5, *, methods: Iterable[str] | None = None
    ) -> None:
        """A burst of 429s with ``retry_after``, as an overloaded server sends them."""
        self.fail_next(count, 429, retry_after=retry_after, methods=methods)

    def set_latency(self, seconds: float, *, methods: Iterable[str] | None = None) -> None:
        self.latency = seconds
        self.latency_methods = _names(methods)

    def delay_for(self, method: str) -> float:
        if self.latency_methods is not None and method.lower() not in self.latency_methods:
            return 0.0
        return self.latency

    def clear(self) -> None:
        self._rules.clear()
        self.latency = 0.0
        self.latency_methods = None

    def take(self, method: str) -> Fault | None:
        """The fault for this call, if any (consumes one from a ``fail_next`` burst)."""
        now = self.clock()
        self._rules = [
            r
            for r in self._rules
            if (r.remaining is None or r.remaining > 0) and (r.until is None or now < r.until)
        ]
        for rule in self._rules:
            if rule.matches(method):
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule.fault
        return None


def configure(faults: FaultInjector, spec: dict[str, object]) -> None:
    """Apply a fault described as JSON (the sandbox page's ``POST /_sandbox/faults``):
    ``{"kind": "fail_next", "count": 3, "status": 502}``, ``{"kind": "fail_for",
    "seconds": 30}``, ``{"kind": "rate_limit_next", "count": 2, "retry_after": 5}``,
    ``{"kind": "latency", "seconds": 0.5}``, ``{"kind": "clear"}``; each may carry
    ``"methods": [...]``. Raises ValueError for anything else."""
    kind = spec.get("kind")
    raw_methods = spec.get("methods")
    methods = [str(m) for m in raw_methods] if isinstance(raw_methods, list) else None

    def number(key: str, default: float | None = None) -> float:
        value = spec.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError(f"{key} must be a number")
        return float(value)

    if kind == "fail_next":
        faults.fail_next(int(number("count")), int(number("status", 500)), methods=methods)
    elif kind == "fail_for":
        faults.fail_for(number("seconds"), int(number("status", 503)), methods=methods)
    elif kind == "rate_limit_next":
        faults.rate_limit_next(int(number("count")), int(number("retry_after", 5)), methods=methods)
    elif kind == "latency":
        faults.set_latency(number("seconds"), methods=methods)
    elif kind == "clear":
        faults.clear()
    else:
        raise ValueError("kind is one of fail_next, fail_for, rate_limit_next, latency, clear")
