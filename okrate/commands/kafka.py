"""`okrate kafka up|down|status`: the local single-node broker; and `ensure_kafka`, the bootstrap
servers every other command uses (KAFKA_BOOTSTRAP_SERVERS, or the local broker, started)."""

from __future__ import annotations

from pathlib import Path

import typer

from base.settings import get_settings

kafka_app = typer.Typer(no_args_is_help=True, help="The local single-node Kafka broker (no Docker needed).")


def _local_kafka(port: int | None, data_dir: Path | None):
    from okrate.local_kafka import LocalKafka

    settings = get_settings()
    cache = Path(settings.okrate_cache_dir) if settings.okrate_cache_dir else None
    return LocalKafka(data_dir or Path(settings.kafka_data_dir), port or settings.kafka_port, cache)


@kafka_app.command("up")
def kafka_up(
    port: int | None = typer.Option(None, help="Broker port (the controller takes the next one). Default: KAFKA_PORT or 9092."),
    data_dir: Path | None = typer.Option(None, help="Data folder (the event store). Default: KAFKA_DATA_DIR or var/kafka."),
) -> None:
    """Start the broker (idempotent), wait until it answers, create missing topics."""
    from base.topic_admin import ensure_topics
    from okrate.local_kafka import KafkaLaunchError

    broker = _local_kafka(port, data_dir)
    try:
        broker.up(log=typer.echo)
    except KafkaLaunchError as exc:
        typer.echo(f"okrate kafka up: {exc}", err=True)
        raise typer.Exit(1) from None
    created = ensure_topics(broker.bootstrap, get_settings())
    if created:
        typer.echo(f"created topics: {', '.join(created)}")


@kafka_app.command("down")
def kafka_down(
    port: int | None = typer.Option(None, help="Broker port."),
    data_dir: Path | None = typer.Option(None, help="Data folder."),
) -> None:
    """Stop the broker cleanly (SIGTERM, then wait)."""
    _local_kafka(port, data_dir).down(log=typer.echo)


@kafka_app.command("status")
def kafka_status(
    port: int | None = typer.Option(None, help="Broker port."),
    data_dir: Path | None = typer.Option(None, help="Data folder."),
) -> None:
    """Running or not, address, Kafka version, log file, topics and their partitions."""
    status = _local_kafka(port, data_dir).status()
    typer.echo(f"state:    {'running' if status.running else 'not running'}" + (f" (pid {status.pid})" if status.pid else ""))
    typer.echo(f"address:  {status.bootstrap}")
    typer.echo(f"version:  Apache Kafka {status.version}")
    typer.echo(f"log file: {status.log_file}")
    if status.running:
        typer.echo(f"topics:   {len(status.topics)}")
        for name, partitions in status.topics.items():
            typer.echo(f"  {name:40} {partitions} partitions")
    if not status.running:
        raise typer.Exit(3)


def ensure_kafka(settings) -> str:
    """The bootstrap servers to use: KAFKA_BOOTSTRAP_SERVERS, or the local broker, started."""
    from okrate.local_kafka import KafkaLaunchError, LocalKafka

    if settings.kafka_bootstrap_servers:
        return settings.kafka_bootstrap_servers
    cache = Path(settings.okrate_cache_dir) if settings.okrate_cache_dir else None
    broker = LocalKafka(Path(settings.kafka_data_dir), settings.kafka_port, cache)
    try:
        broker.up(log=typer.echo)
    except KafkaLaunchError as exc:
        typer.echo(f"okrate: {exc}", err=True)
        raise typer.Exit(1) from None
    return broker.bootstrap
