"""The agents: thin shells that decode, call the pure rules, and write."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.app import StreamsApp


def register_all(app: StreamsApp) -> None:
    from streams.agents import claims, contacts, issues, normalise, stats

    wanted = app.config.agents
    for name, module in (("normalise", normalise), ("claims", claims), ("issues", issues),
                         ("contacts", contacts), ("stats", stats)):
        if wanted is None or name in wanted:
            module.register(app)
    from streams.web import metrics_view

    metrics_view.register(app)
