"""`okrate link add|import|remove|invite|list` and `okrate forget`: the operator's side of
`contact.links` (the records and their rules are `base.links`; invites, `notifier.telegram.invites`)."""

from __future__ import annotations

from pathlib import Path

import typer

from base.settings import get_settings
from okrate.commands.kafka import ensure_kafka

link_app = typer.Typer(no_args_is_help=True, help="Links between Okdesk contacts and Telegram users (contact.links).")


def _links():
    from base.links import Links

    settings = get_settings()
    bootstrap = ensure_kafka(settings)
    from base.topic_admin import ensure_topics

    ensure_topics(bootstrap, settings)
    return Links(settings, bootstrap)


def _checked(check, value):
    from base.links import LinkError

    try:
        return check(value)
    except LinkError as exc:
        typer.echo(f"okrate: {exc}", err=True)
        raise typer.Exit(2) from None


@link_app.command("add")
def link_add(
    contact: str = typer.Option(..., help="Okdesk contact id."),
    telegram_user: int = typer.Option(..., help="Telegram user id (the chat is the user's private chat)."),
) -> None:
    """Link a contact to a Telegram user: their rating requests go to that user from now on."""
    from base.links import check_contact_id, check_telegram_user, link_record

    contact_id = _checked(check_contact_id, contact)
    user = _checked(check_telegram_user, telegram_user)
    _links().write([link_record(contact_id, "linked", "operator", user)])
    typer.echo(f"linked contact {contact_id} to Telegram user {user}")


@link_app.command("import")
def link_import(file: Path = typer.Argument(..., help="CSV: contact_id,telegram_user_id with a header row, UTF-8.")) -> None:
    """Migrate an existing local database of links; bad lines are reported, never abort the rest."""
    from base.links import LinkError, link_record, plan_import

    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"okrate: cannot read {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    links = _links()
    try:
        plan = plan_import(text, links.current())
    except LinkError as exc:
        typer.echo(f"okrate: {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    links.write([link_record(c, "linked", "import", u) for c, u in plan.to_link])
    typer.echo(f"added: {len(plan.to_link)}, unchanged: {plan.unchanged}, rejected: {len(plan.rejected)}")
    for line, reason in plan.rejected:
        typer.echo(f"  line {line}: {reason}")


@link_app.command("remove")
def link_remove(contact: str = typer.Option(..., help="Okdesk contact id.")) -> None:
    """Unlink a contact: they are no longer asked, and their open requests are closed."""
    from base.links import check_contact_id, link_record

    contact_id = _checked(check_contact_id, contact)
    _links().write([link_record(contact_id, "unlinked", "operator")])
    typer.echo(f"unlinked contact {contact_id}")


def forget(contact: str = typer.Option(..., help="Okdesk contact id.")) -> None:
    """As `link remove`, and the contact's personal data is left out of exports from now on."""
    from base.links import check_contact_id, link_record

    contact_id = _checked(check_contact_id, contact)
    _links().write([link_record(contact_id, "forgotten", "forget")])
    typer.echo(f"forgot contact {contact_id}")


@link_app.command("invite")
def link_invite(contact: str = typer.Option(..., help="Okdesk contact id.")) -> None:
    """Print a one-time link (https://t.me/<bot>?start=<token>) that links the contact to whoever opens it, valid for LINK_INVITE_TTL."""
    from base.durations import format_duration
    from base.links import check_contact_id
    from notifier.telegram.invites import bot_username, invite_url, new_invite, write_invite

    contact_id = _checked(check_contact_id, contact)
    settings = get_settings()
    try:
        username = bot_username(settings)
    except Exception as exc:  # no token, Telegram unreachable, a wrong token
        typer.echo(f"okrate: cannot ask Telegram for the bot's username (getMe): {exc}", err=True)
        raise typer.Exit(2) from None
    links = _links()
    invite = new_invite(contact_id, settings.link_invite_ttl)
    write_invite(settings, links.bootstrap, invite)
    typer.echo(invite_url(username, invite.token))
    typer.echo(f"links contact {contact_id}; one use, valid for {format_duration(settings.link_invite_ttl)} "
               f"(until {invite.expires_at:%Y-%m-%d %H:%M} UTC)", err=True)


@link_app.command("list")
def link_list(contact: str | None = typer.Option(None, help="Only this contact.")) -> None:
    """Every contact's current link state."""
    current = _links().current()
    rows = [current[contact]] if contact and contact in current else ([] if contact else list(current.values()))
    if not rows:
        typer.echo("no links" if not contact else f"contact {contact} has no link record")
        return
    typer.echo(f"{'contact':>10}  {'state':10} {'telegram user':>14}  {'source':9} changed at")
    for link in sorted(rows, key=lambda r: r.contact_id):
        user = str(link.telegram_user_id) if link.telegram_user_id is not None else "-"
        typer.echo(f"{link.contact_id:>10}  {link.state:10} {user:>14}  {link.source:9} {link.changed_at:%Y-%m-%d %H:%M:%S}")
