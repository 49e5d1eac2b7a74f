"""Everything a deployment owns on a Kafka cluster, named from its one name: `TOPIC_PREFIX`.

Several deployments share one cluster (staging beside production, one okrate per Okdesk account).
Each is told apart by its prefix alone, and every name it gives the cluster starts with it: its
topics, every consumer group (the streams application, the notifier's, the readers of the
dashboard, the exports and the operators' commands), the Faust application id and with it the
tables' changelogs and Faust's own internal topics, the scratch ids of replays and statistics
rebuilds. Its local data folders are named from it too. The rule is in one place, here: the
streams, the notifier, exports and replays all call it.

No prefix (the default) gives exactly the names okrate has always used, so an existing
installation moves nothing: topics `okdesk.events`, ..., the application `okrate-streams`, its
changelogs `okrate-streams-<table>-changelog`, the groups `okrate-notifier-<role>`, the data
folder `var/streams`. `STREAMS_APP_ID` and `STREAMS_DATA_DIR` remain explicit overrides.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

# TOPIC_PREFIX's own rule, kept apart for the settings to use; named here with the rest.
from base.prefix import PREFIX_PATTERN, check_prefix, deployment_of, owned  # noqa: F401

if TYPE_CHECKING:
    from base.settings import Settings

STREAMS_APPLICATION = "okrate-streams"
NOTIFIER_ROLES = ("callbacks", "requests", "decisions", "conversations")


def deployment(settings: Settings) -> str:
    """How `okrate status` and `okrate settings` call the deployment."""
    name = deployment_of(settings.topic_prefix)
    return name or "(default)"


def group(settings: Settings, role: str) -> str:
    """A consumer group of the deployment: `<prefix>okrate-<role>`."""
    return owned(settings, f"okrate-{role}")


def reader_group(settings: Settings, role: str = "reader") -> str:
    """A one-off reader's group id (it assigns partitions itself and commits nothing)."""
    return f"{group(settings, role)}-{uuid.uuid4().hex[:8]}"


def notifier_group(settings: Settings, role: str) -> str:
    return group(settings, f"notifier-{role}")


def streams_app_id(settings: Settings) -> str:
    """The Faust application id: `STREAMS_APP_ID` if set, else `<prefix>okrate-streams`. Its
    consumer group, its changelogs (`<id>-<table>-changelog`), Faust's `<id>-__assignor-__leader`
    and its repartition topics (`<id>.<what>.by-<by>`) follow from it."""
    return settings.streams_app_id or owned(settings, STREAMS_APPLICATION)


def application_of(settings: Settings, app_id: str) -> str:
    """The application part of an application's repartition topics, which are named under the
    deployment's prefix already (`TopicSpec.full_name`): the derived id gives `okrate-streams`,
    so the catalogue's `<prefix>okrate-streams.*` topics."""
    return app_id.removeprefix(settings.topic_prefix)


def changelog_topic(app_id: str, table: str) -> str:
    """Faust's name for a table's changelog (faust-streaming 0.15: `<app id>-<table>-changelog`)."""
    return f"{app_id}-{table}-changelog"


def is_application_topic(app_id: str, topic: str) -> bool:
    """A topic Faust made for the application: a table's changelog or the assignor's leader topic."""
    return topic.startswith(f"{app_id}-") and (topic.endswith("-changelog") or topic.endswith("-__assignor-__leader"))


SCRATCH_KINDS = ("reprocess", "stats-rebuild")


def scratch_prefix(settings: Settings, kind: str) -> str:
    """The prefix of a replay's or rebuild's scratch deployment, inside the deployment's own:
    `<prefix><kind>-<time>-<random>-`. The scratch run is a deployment of its own (its topics,
    its application `<scratch prefix>okrate-streams`, its changelogs) that reads the live one's."""
    return owned(settings, f"{kind}-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:4]}-")


def scratch_settings(settings: Settings, prefix: str) -> Settings:
    """The settings of a scratch deployment under `prefix`: its names all follow from it (an
    explicit STREAMS_APP_ID of the live deployment is not the scratch application's)."""
    return settings.model_copy(update={"topic_prefix": prefix, "streams_app_id": None, "streams_data_dir": None})


def owned_topics(settings: Settings, existing: Iterable[str]) -> list[str]:
    """Of the cluster's topics, those of the deployment: the catalogue's (in its order), then its
    application's own (Faust's changelogs and leader topic, repartition topics of an application
    id of its own). Matched by exact names and by the application id, never by the bare prefix
    alone: `staging-` must not claim what `staging-eu-` owns."""
    from schemas.topics import ALL_TOPICS

    present = set(existing)
    app_id = streams_app_id(settings)
    catalogue = [spec.full_name(settings) for spec in ALL_TOPICS]
    own_repartition = owned(settings, f"{application_of(settings, app_id)}.")
    others = sorted(t for t in present - set(catalogue)
                    if is_application_topic(app_id, t) or (t.startswith(own_repartition) and ".by-" in t))
    return [t for t in catalogue if t in present] + others


def scratch_topics(settings: Settings, existing: Iterable[str]) -> list[str]:
    """The topics replays and statistics rebuilds of the deployment left (`<prefix><kind>-<time>-...`)."""
    starts = tuple(owned(settings, f"{kind}-") for kind in SCRATCH_KINDS)
    return sorted(t for t in existing if t.startswith(starts))


def data_dir(settings: Settings, service: str) -> Path:
    """A service's local data folder: `var/<service>`, or `var/<deployment>/<service>` with a prefix."""
    name = deployment_of(settings.topic_prefix)
    return Path("var", name, service) if name else Path("var", service)


def streams_data_dir(settings: Settings) -> Path:
    return Path(settings.streams_data_dir) if settings.streams_data_dir else data_dir(settings, "streams")


def groups(settings: Settings) -> dict[str, str]:
    """The deployment's long-lived consumer groups (the ones that commit offsets), by what they are."""
    out = {"streams": streams_app_id(settings)}
    out.update({f"notifier {role}": notifier_group(settings, role) for role in NOTIFIER_ROLES})
    return out


def derived(settings: Settings) -> list[tuple[str, str]]:
    """What `okrate settings` shows under the variables: the names derived from the prefix."""
    from schemas.topics import CATALOGUE, INTERNAL_TOPICS

    app_id = streams_app_id(settings)
    rows = [("deployment", deployment(settings)),
            ("streams application id, its group", app_id),
            ("its changelogs", changelog_topic(app_id, "<table>"))]
    rows += [(f"group: notifier {role}", notifier_group(settings, role)) for role in NOTIFIER_ROLES]
    rows += [("groups of one-off readers", f"{group(settings, '<reader>')}-<random>"),
             ("scratch deployments", owned(settings, "<reprocess|stats-rebuild>-<time>-<random>-")),
             ("streams data folder", str(streams_data_dir(settings)))]
    rows += [("topic", spec.full_name(settings)) for spec in CATALOGUE]
    rows += [("internal topic", spec.full_name(settings)) for spec in INTERNAL_TOPICS]
    return rows
