"""`okrate`: one console script, one subcommand per job. Commands import their service lazily,
so that `okrate kafka status` does not load Faust or aiogram."""

from __future__ import annotations

from pathlib import Path

import typer

from base.settings import ConfigError, get_settings
from okrate.commands.kafka import ensure_kafka, kafka_app
from okrate.commands.links import forget, link_app

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, help="okrate: ratings for resolved Okdesk issues, over Kafka and Telegram.")
app.add_typer(kafka_app, name="kafka")
app.add_typer(link_app, name="link")


@app.command("run")
def run() -> None:
    """The whole pipeline: the local broker (unless KAFKA_BOOTSTRAP_SERVERS is set), then the
    ingest, a streams worker and the notifier, supervised; in sandbox mode also the stand-ins."""
    import asyncio

    from base.logs import configure_logging
    from base.topic_admin import ensure_topics
    from okrate.run_plan import plan_children, prepare_sandbox
    from okrate.supervisor import Supervisor

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    if problem := settings.half_configured() or settings.author_missing():
        typer.echo(f"okrate: {problem}", err=True)
        raise typer.Exit(2)
    bootstrap = ensure_kafka(settings)
    ensure_topics(bootstrap, settings)
    if settings.sandbox_mode:
        prepare_sandbox(settings, bootstrap, echo=typer.echo)
    children = plan_children(settings, bootstrap)
    typer.echo(f"okrate is running ({', '.join(c.name for c in children)}); Ctrl-C stops it.")
    asyncio.run(Supervisor(children).run())


@app.command("sandbox")
def sandbox(
    webhook_url: str | None = typer.Option(None, help="Where the Okdesk stand-in posts webhooks (default: the local ingest)."),
) -> None:
    """The Telegram and Okdesk stand-ins and the sandbox page (what `okrate run` starts in sandbox mode)."""
    import asyncio

    from base.logs import configure_logging
    from sandbox.service import SandboxPorts, run_sandbox

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    url = webhook_url or f"http://127.0.0.1:{settings.ingest_port}{settings.webhook_path}"

    async def until_stopped() -> None:
        """SIGTERM or Ctrl-C stops the stand-ins' servers and exits 0 (the supervisor counts on it)."""
        import contextlib
        import signal

        serving = asyncio.ensure_future(run_sandbox("127.0.0.1", SandboxPorts(settings.sandbox_port), url,
                                                    settings.webhook_secret, admin_token=settings.admin_token))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, serving.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await serving

    asyncio.run(until_stopped())


@app.command("ingest")
def ingest(
    workers: int | None = typer.Option(None, min=1, help="Processes sharing the port (SO_REUSEPORT), each with its own Kafka producer (default INGEST_WORKERS)."),
    reuse_port: bool = typer.Option(False, hidden=True, help="Share the port with other processes (each worker of --workers N)."),
) -> None:
    """The webhook endpoint (INGEST_HOST:INGEST_PORT): authenticated, durable in Kafka."""
    from base.logs import configure_logging
    from base.topic_admin import ensure_topics
    from ingest.service import serve

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    bootstrap = ensure_kafka(settings)
    ensure_topics(bootstrap, settings)
    count = workers or settings.ingest_workers
    if count == 1:
        serve(settings, bootstrap, reuse_port=reuse_port)
        return
    import asyncio
    import shutil
    import tempfile

    from okrate.run_plan import ingest_workers
    from okrate.supervisor import Supervisor

    typer.echo(f"okrate ingest: {count} workers on {settings.ingest_host}:{settings.ingest_port}; Ctrl-C stops them.")
    metrics_dir = tempfile.mkdtemp(prefix="okrate-ingest-metrics-")  # the workers' shared /metrics
    try:
        asyncio.run(Supervisor(ingest_workers(bootstrap, count, metrics_dir)).run())
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


@app.command("streams")
def streams(
    data_dir: Path | None = typer.Option(None, help="Table stores (default STREAMS_DATA_DIR, else var/streams or var/<deployment>/streams); one per worker on a host."),
    web_port: int | None = typer.Option(None, help="Port of /stats (default STATS_PORT); one per worker on a host."),
) -> None:
    """A Faust streams worker; run several to share the partitions."""
    from base.logs import configure_logging
    from base.topic_admin import ensure_topics
    from streams.worker import run_worker

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    bootstrap = ensure_kafka(settings)
    ensure_topics(bootstrap, settings)
    run_worker(settings, bootstrap, data_dir=data_dir, web_port=web_port)


@app.command("notifier")
def notifier() -> None:
    """The Telegram bot and the Okdesk write-back: polls Telegram (or sets the webhook), sends rating requests and decisions at Telegram's pace, writes ratings back to Okdesk."""
    import asyncio

    from base.logs import configure_logging
    from base.topic_admin import ensure_topics
    from notifier.service import serve as serve_notifier

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    if not settings.telegram_bot_token:
        typer.echo("okrate notifier: TELEGRAM_BOT_TOKEN is not set", err=True)
        raise typer.Exit(2)
    if problem := settings.author_missing():
        typer.echo(f"okrate notifier: {problem}", err=True)
        raise typer.Exit(2)
    bootstrap = ensure_kafka(settings)
    ensure_topics(bootstrap, settings)
    asyncio.run(serve_notifier(settings, bootstrap))


@app.command("send-test-webhook")
def send_test_webhook(
    url: str | None = typer.Option(None, help="Default: http://127.0.0.1:INGEST_PORT + WEBHOOK_PATH."),
    issue: int = typer.Option(1380, help="Issue id."),
    status: str = typer.Option("resolved", help="New status code."),
    old_status: str = typer.Option("opened", help="Previous status code."),
    contact: int = typer.Option(95, help="Client contact id."),
    dialect: str = typer.Option("seed", help="seed (issue.status_changed) or okdesk (new_ticket_status)."),
    secret: str | None = typer.Option(None, help="Sign with this secret (default: WEBHOOK_SECRET)."),
) -> None:
    """Post a realistic status-change webhook of either dialect, signed, and print the answer."""
    from okrate.test_webhook import post_test_webhook

    settings = get_settings()
    target = url or f"http://127.0.0.1:{settings.ingest_port}{settings.webhook_path}"
    status_code, text = post_test_webhook(
        target, issue_id=issue, status=status, old_status=old_status, contact_id=contact,
        dialect=dialect, secret=secret if secret is not None else settings.webhook_secret,
    )
    typer.echo(f"{status_code} {text}")
    if status_code >= 300:
        raise typer.Exit(1)


app.command("forget")(forget)  # `okrate forget`, beside `okrate link ...` in okrate.commands.links


@app.command("export")
def export(
    what: str = typer.Argument(..., help="ratings, requests, reasons or stats"),
    since: str | None = typer.Option(None, help="ISO date or time (inclusive), e.g. 2026-11-01."),
    until: str | None = typer.Option(None, help="ISO date or time (exclusive)."),
    fmt: str = typer.Option("csv", "--format", help="csv or jsonl"),
    out: Path | None = typer.Option(None, help="Output file (default: standard output)."),
) -> None:
    """Rows for analysts, read from the topics from the beginning; forgotten contacts left out."""
    from okrate.export_command import run_export

    if what not in ("ratings", "requests", "reasons", "stats") or fmt not in ("csv", "jsonl"):
        typer.echo("okrate export: WHAT is ratings|requests|reasons|stats and --format csv|jsonl", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    try:
        count = run_export(settings, ensure_kafka(settings), what, since, until, fmt, out)
    except ValueError as exc:
        typer.echo(f"okrate export: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{count} {what} rows" + (f" written to {out}" if out else ""), err=True)


@app.command("replay")
def replay(
    reprocess: bool = typer.Option(False, "--reprocess", help="Run the current rules over the raw topics into a scratch prefix and show what would change."),
    switch: bool = typer.Option(False, "--switch", help="Restart the live streams application from offset 0 with the current rules (stop its workers first)."),
    from_offset: int | None = typer.Option(None, help="Rewind the live application to this offset of every raw partition."),
    from_time: str | None = typer.Option(None, help="Rewind the live application to this ISO time on the raw topics."),
    rebuild_stats: bool = typer.Option(False, "--rebuild-stats", help="Refold every statistic from offset 0 of the decision topics."),
    yes: bool = typer.Option(False, "--yes", help="Confirm --switch without asking."),
    data_dir: Path | None = typer.Option(None, help="Table stores of the scratch application."),
) -> None:
    """Reprocess, switch, rewind, or rebuild the statistics; see the README for when to use which."""
    import tempfile

    from okrate import replay as r
    from okrate.export_command import parse_when, progress_bar

    modes = [reprocess, switch, from_offset is not None or from_time is not None, rebuild_stats]
    if sum(modes) != 1:
        typer.echo("okrate replay: choose one of --reprocess, --switch, --from-offset/--from-time, --rebuild-stats", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    bootstrap = ensure_kafka(settings)
    try:
        if reprocess:
            scratch = r.scratch_prefix_for(settings)
            typer.echo(f"reprocessing into the scratch prefix {scratch!r} ...")
            with progress_bar() as progress, tempfile.TemporaryDirectory(prefix="okrate-reprocess-") as tmp:
                task = progress.add_task("raw events", total=None)
                changes = r.reprocess(settings, bootstrap, scratch, data_dir or Path(tmp), store=settings.streams_store,
                                      progress=lambda done, total: progress.update(task, completed=done, total=total))
            typer.echo(r.describe(changes))
            typer.echo("no change" if all(c.none for c in changes.values()) else
                       "To apply these rules to the live application: okrate replay --switch")
        elif switch:
            from base.names import streams_app_id

            if not yes and not typer.confirm(f"Restart {streams_app_id(settings)!r} from offset 0 (its tables are rebuilt)?"):
                raise typer.Exit(1)
            dropped = r.switch(settings, bootstrap)
            typer.echo(f"dropped {len(dropped)} topics and the group's offsets; start the streams workers now")
        elif rebuild_stats:
            from okrate.rebuild_stats import rebuild_stats as rebuild

            with progress_bar() as progress:
                task = progress.add_task("decision events", total=None)
                summary = rebuild(settings, bootstrap,
                                  progress=lambda done, total: progress.update(task, completed=done, total=total))
            typer.echo(summary)
        else:
            rereads = r.rewind(settings, bootstrap, from_offset=from_offset, from_time=parse_when(from_time))
            typer.echo("rewound: " + ", ".join(f"{topic} re-reads {n}" for topic, n in rereads.items()))
    except (r.ReplayError, ValueError) as exc:
        typer.echo(f"okrate replay: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("rename")
def rename(from_prefix: str = typer.Option(..., "--from-prefix", help="The old deployment's TOPIC_PREFIX (\"\" for none).")) -> None:
    """Copy a stopped deployment's topics under this deployment's TOPIC_PREFIX (Kafka cannot rename topics); see the README."""
    from okrate.rename import copy_deployment
    from okrate.replay import ReplayError

    settings = get_settings()
    bootstrap = ensure_kafka(settings)
    try:
        copied = copy_deployment(settings, bootstrap, from_prefix,
                                 progress=lambda topic, n: typer.echo(f"  {topic}: {n} ...", err=True))
    except (ReplayError, ValueError) as exc:
        typer.echo(f"okrate rename: {exc}", err=True)
        raise typer.Exit(2) from None
    for topic, count in copied.items():
        typer.echo(f"{topic}: {count} messages")
    typer.echo("copied; start this deployment's services: its application decides again from offset 0")


@app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable.")) -> None:
    """The deployment (its name, consumer groups and topics), each service's health, consumer lag
    per topic, open/undeliverable/expired requests, failed writes to Okdesk, dead letters in the last day."""
    from okrate import status as st

    settings = get_settings()
    bootstrap = settings.kafka_bootstrap_servers or f"127.0.0.1:{settings.kafka_port}"
    gathered = st.gather(settings, bootstrap)
    typer.echo(st.as_json(gathered) if as_json else st.render(gathered))


BENCHMARKS = ("ingest", "streams", "notifier", "replay", "e2e")


@app.command("bench")
def bench(name: str = typer.Argument(..., help=f"{', '.join(BENCHMARKS)} or all")) -> None:
    """Run a benchmark (results in bench/results/NAME.json); `all` runs every one in turn."""
    import importlib

    names = BENCHMARKS if name == "all" else (name,)
    if any(n not in BENCHMARKS for n in names):
        typer.echo(f"okrate bench: choose one of {', '.join(BENCHMARKS)} or all", err=True)
        raise typer.Exit(2)
    for n in names:
        typer.echo(f"== bench {n}", err=True)
        importlib.import_module(f"bench.{n}").main()
    if name == "all":
        from okrate.readme_sections import update_readme

        update_readme(Path("README.md"))


@app.command("settings")
def show_settings(markdown: bool = typer.Option(False, help="Print the README's table of variables.")) -> None:
    """Validate the configuration and print it (secrets masked), then the names derived from TOPIC_PREFIX."""
    from okrate.settings_doc import settings_markdown, settings_summary

    typer.echo(settings_markdown() if markdown else settings_summary(get_settings()))


@app.command("readme")
def refresh_readme(path: Path = typer.Option(Path("README.md"), help="The README to refresh.")) -> None:
    """Regenerate the README's generated tables (variables, topics)."""
    from okrate.readme_sections import update_readme

    changed = [p for p in (path, path.parent / "schemas" / "README.md") if p.exists() and update_readme(p)]
    typer.echo(f"updated {', '.join(map(str, changed))}" if changed else "already current")


def main() -> None:
    from okrate.lifeline import end_with_supervisor

    end_with_supervisor()  # a child of `okrate run` ends with it, however it ends
    try:
        app()
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
