"""The agents: thin shells that decode, call the pure rules, and write."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.app import StreamsApp


def register_all(app: StreamsApp) -> None:
    """Every agent (the live worker, a reprocess), or the statistics alone (a rebuild: the
    fan-out then reads the decision topics, which the issue agent otherwise fans out itself)."""
    from streams.agents import claims, contacts, issues, stats

    wanted = app.config.agents
    if wanted is None:
        claims.register(app)
        issues.register(app, fan_out_stats=True)
        contacts.register(app)
        stats.register(app, fanout_agent=False)
    elif wanted == ("stats",):
        stats.register(app, fanout_agent=True)
    else:
        raise ValueError(f"agents={wanted!r}: either every agent (None) or ('stats',)")
    from streams.web import metrics_view

    metrics_view.register(app)
