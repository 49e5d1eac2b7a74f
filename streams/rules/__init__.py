"""The streams' rules, as pure functions over typed events (no Kafka in sight: import-linter's
contract in pyproject.toml keeps it so): `normalise` (a raw webhook or sweep observation into an
issue event), `request_cycle` (when to ask), `addressing` (who is asked), `rating_decisions`
(which ratings count), `issue_state` and `issue_decider` (decide and evolve, composed), `claims`
(a press or a reason from a Telegram update), `clock` and `due_index` (reminders and expiry).

Here: the settings the rules read, gathered once from `Settings` (so rules never see the env)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from base.settings import Settings


@dataclass(frozen=True)
class Rules:
    final_statuses: frozenset[str] = frozenset({"resolved", "closed", "completed", "done", "finished", "solved"})
    issue_types: frozenset[str] = frozenset()  # empty: every type is rated
    groups: frozenset[str] = frozenset()  # empty: every group is rated
    expiry: timedelta = timedelta(days=7)
    remind_after: timedelta | None = timedelta(hours=24)
    okrate_author_id: str | None = None  # OKDESK_AUTHOR_ID: what okrate writes comes back by it

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        return cls(
            final_statuses=frozenset(s.lower() for s in settings.rating_statuses),
            issue_types=frozenset(s.lower() for s in settings.rating_issue_types),
            groups=frozenset(settings.rating_groups),
            expiry=settings.rating_expiry,
            remind_after=settings.rating_remind_after,
            okrate_author_id=str(settings.okdesk_author_id) if settings.okdesk_author_id is not None else None,
        )

    def is_final(self, status: str | None) -> bool:
        return status is not None and status in self.final_statuses
