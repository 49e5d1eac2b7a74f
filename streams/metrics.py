"""The streams worker's Prometheus metrics (one registry per app, so tests run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class StreamsMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter("okrate_streams_events", "Messages processed, by agent", ["agent"], registry=self.registry)
        self.dead_letters = Counter("okrate_streams_dead_letters", "Messages sent to okrate.deadletter, by agent and reason",
                                    ["agent", "reason"], registry=self.registry)
        self.decisions = Counter("okrate_streams_decisions", "Decisions written, by record type",
                                 ["record"], registry=self.registry)
        self.lag = Gauge("okrate_streams_consumer_lag", "Messages not yet committed by the application, by topic",
                         ["topic"], registry=self.registry)
        # 0 while the application has peers and a lag is a worker whose consumer left its group
        # (faust-streaming does not rejoin after some revocations): restart it.
        self.assigned = Gauge("okrate_streams_assigned_partitions", "Input partitions assigned to this worker",
                              registry=self.registry)

        self.logins = Counter("okrate_streams_dashboard_logins", "Failed logins to the web views (wrong token) "
                              "and requests refused 429 by DASHBOARD_LOGIN_FAILURES, by outcome", ["outcome"],
                              registry=self.registry)
        for outcome in ("failed", "limited"):
            self.logins.labels(outcome)

        # Children looked up once: `.labels(...)` per event is a dict lookup under a lock.
        self._event_children: dict[str, Counter] = {}
        self._decision_children: dict[str, Counter] = {}

    def event(self, agent: str) -> None:
        if (child := self._event_children.get(agent)) is None:
            child = self._event_children[agent] = self.events.labels(agent)
        child.inc()

    def decision(self, record: str) -> None:
        if (child := self._decision_children.get(record)) is None:
            child = self._decision_children[record] = self.decisions.labels(record)
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
