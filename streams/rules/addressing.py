"""Who receives a rating request: the contact's Telegram link (pure decider, keyed by contact).

A request for a linked contact goes to the linked user's private chat. Without a link it goes out
undeliverable and waits while it could still be rated; a link that appears later re-addresses it
(same request id, new recipient). An unlink or a forget closes what was addressed to that user
(`unlinked`); a later link starts afresh. The issue's side decides whether a request is still
open: this side proposes, it never closes a rated request by itself.

The issue's side addresses a new request itself, from the worker's copy of the links
(`streams.link_directory`), and tells this side what it did; this side, ordered with the links of
its contact, corrects only what that copy got wrong (a link a moment before the webhook, before the
copy caught up: re-addressed; an unlink the copy had not read: closed for the user it went to), so
a resolving webhook needs no hop through here on its way to the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas.records import ContactLink, RatingClosed, RatingRequested, Record
from streams.rules import Rules
from streams.rules.changed import changed

NO_CONTACT = "-"  # key of requests whose issue has no contact: never deliverable


class LinkState:
    LINKED = "linked"
    UNLINKED = "unlinked"
    FORGOTTEN = "forgotten"


@dataclass(frozen=True)
class KnownRequest:
    request: RatingRequested  # as the issue's side asked for it (unaddressed)
    recipient_user_id: int | None = None


@dataclass(frozen=True)
class ContactState:
    contact_id: str
    link_state: str | None = None
    telegram_user_id: int | None = None
    chat_id: int | None = None
    forgotten: bool = False
    requests: tuple[KnownRequest, ...] = ()  # open as far as this side knows, within the expiry

    @property
    def linked(self) -> bool:
        return self.link_state == LinkState.LINKED and self.telegram_user_id is not None


Command = RatingRequested | RatingClosed | ContactLink


def addressed_to(request: RatingRequested, user_id: int | None, chat_id: int | None, at: datetime) -> RatingRequested:
    """The request addressed to a linked user's private chat, or undeliverable (no user). Either
    side may address it (the issue's from the worker's copy of the links, this one from its own
    state): the ids are the same, so the notifier tells a repeat from a re-address."""
    if user_id is not None:
        return changed(
            request, event_id=f"{request.request_id}/addressed/{user_id}",
            deliverable=True, recipient_user_id=user_id, recipient_chat_id=chat_id or user_id, addressed_at=at,
        )
    return changed(request, event_id=f"{request.request_id}/undeliverable", deliverable=False,
                   recipient_user_id=None, recipient_chat_id=None, addressed_at=at)


def addressed(request: RatingRequested, state: ContactState | None, at: datetime) -> RatingRequested:
    if state is not None and state.linked:
        return addressed_to(request, state.telegram_user_id, state.chat_id, at)
    return addressed_to(request, None, None, at)


def _live(state: ContactState, now: datetime, rules: Rules) -> tuple[KnownRequest, ...]:
    return tuple(k for k in state.requests if k.request.requested_at + rules.expiry > now)


def unlinked_closing(request: RatingRequested, user_id: int, at: datetime, cause: str) -> RatingClosed:
    return RatingClosed(
        event_id=f"{request.request_id}/closed", request_id=request.request_id, issue_id=request.issue_id,
        reason="unlinked", closed_at=at, cause_event_id=cause, recipient_user_id=user_id, recipient_chat_id=user_id,
    )


def decide(state: ContactState | None, command: Command, rules: Rules) -> list[Record]:
    if isinstance(command, RatingRequested):
        proposal = addressed(command, state, command.requested_at)
        if command.addressed_at is not None and (proposal.recipient_user_id, proposal.recipient_chat_id) == (
                command.recipient_user_id, command.recipient_chat_id):
            return []  # the issue's side addressed it as this side would: nothing to correct
        if command.addressed_at is not None and command.recipient_user_id is not None:
            if state is None or state.link_state is None:
                # This side has read no link of the contact yet (its inputs have no order between
                # them): the copy read one that this side will, and is believed.
                return []
            if state.link_state in (LinkState.UNLINKED, LinkState.FORGOTTEN):
                # The copy addressed a user this contact is no longer linked to (an unlink it had
                # not read yet): the message may be out already. Closed for that user, as an
                # unlink right after the request would have closed it.
                cause = f"link/{command.contact_id}/{state.link_state}"
                return [unlinked_closing(command, command.recipient_user_id, command.requested_at, cause)]
        return [proposal]
    if not isinstance(command, ContactLink) or state is None:
        return []
    live = _live(state, command.changed_at, rules)
    if command.state == LinkState.LINKED and command.telegram_user_id is not None:
        linked = changed(state, link_state=LinkState.LINKED, telegram_user_id=command.telegram_user_id,
                         chat_id=command.chat_id or command.telegram_user_id)
        return [addressed(k.request, linked, command.changed_at)
                for k in live if k.recipient_user_id != command.telegram_user_id]
    if command.state in (LinkState.UNLINKED, LinkState.FORGOTTEN):
        cause = f"link/{command.contact_id}/{command.state}"
        return [unlinked_closing(k.request, k.recipient_user_id, command.changed_at, cause)
                for k in live if k.recipient_user_id is not None]
    return []


def evolve(state: ContactState | None, event: Record, contact_id: str, rules: Rules) -> ContactState:
    state = state or ContactState(contact_id=contact_id)
    if isinstance(event, ContactLink):
        live = _live(state, event.changed_at, rules)
        if event.state == LinkState.LINKED and event.telegram_user_id is not None:
            return changed(state, link_state=LinkState.LINKED, telegram_user_id=event.telegram_user_id,
                           chat_id=event.chat_id or event.telegram_user_id, requests=live)
        # Unlinked or forgotten: what was addressed is closed; a later link starts afresh.
        return changed(state, link_state=event.state, telegram_user_id=None, chat_id=None,
                       forgotten=state.forgotten or event.state == LinkState.FORGOTTEN,
                       requests=tuple(k for k in live if k.recipient_user_id is None))
    if isinstance(event, RatingRequested):
        others = tuple(k for k in _live(state, event.requested_at, rules) if k.request.request_id != event.request_id)
        base = next((k.request for k in state.requests if k.request.request_id == event.request_id), None)
        request = base or changed(event, deliverable=False, recipient_user_id=None,
                                  recipient_chat_id=None, addressed_at=None)
        return changed(state, requests=(*others, KnownRequest(request, event.recipient_user_id)))
    if isinstance(event, RatingClosed):
        return changed(state, requests=tuple(k for k in state.requests if k.request.request_id != event.request_id))
    return state


def run(state: ContactState | None, command: Command, contact_id: str, rules: Rules) -> tuple[ContactState, list[Record]]:
    events = decide(state, command, rules)
    if isinstance(command, (ContactLink, RatingClosed)) or (isinstance(command, RatingRequested) and not events):
        state = evolve(state, command, contact_id, rules)
    for event in events:
        state = evolve(state, event, contact_id, rules)
    return state or ContactState(contact_id=contact_id), events
