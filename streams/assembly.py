"""The streams application put together: the app (`streams.app`), every agent registered on it
(`streams.agents`), its tables' changelog topics made. Apart from `streams.app` so that the agents
can name the app they run on without the app importing them."""

from __future__ import annotations

from streams.agents import register_all
from streams.app import StreamsApp, StreamsConfig


def ensure_changelogs(app: StreamsApp) -> list[str]:
    """Creates the tables' changelog topics before Faust starts. Faust would create them itself,
    but a worker whose metadata does not show them yet fails its first table write
    (PartitionsMismatch: "the changelog topic has 0 partitions")."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": app.config.bootstrap, "log_level": 0})
    existing = set(admin.list_topics(timeout=30).topics)
    wanted = [table.changelog_topic.get_topic_name() for table in app.faust.tables.values()]
    missing = [name for name in wanted if name not in existing]
    if missing:
        futures = admin.create_topics([
            NewTopic(name, app.settings.topic_partitions, replication_factor=-1, config={"cleanup.policy": "compact"})
            for name in missing
        ], operation_timeout=30)
        for future in futures.values():
            try:
                future.result()
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise
    return missing


def create_app(config: StreamsConfig) -> StreamsApp:
    app = StreamsApp(config)
    register_all(app)
    ensure_changelogs(app)
    return app

