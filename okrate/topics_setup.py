"""Creates the catalogue's missing topics and refuses a partition count that disagrees."""

from __future__ import annotations

from okrate.settings import Settings


def ensure_catalogue_topics(bootstrap: str, settings: Settings) -> list[str]:
    from schemas.topic_admin import ensure_topics
    from schemas.topics import ALL_TOPICS

    return ensure_topics(bootstrap, settings, ALL_TOPICS)
