"""TOPIC_PREFIX's own rule, and the one rule that names what a deployment gives the cluster: the
prefix and the name. Apart from `base.names` so that the settings can check and use it without
importing what names everything else from them."""

from __future__ import annotations

import re
from typing import Protocol


class _Prefixed(Protocol):
    topic_prefix: str


# Kafka's own rule for topic names (and so for anything a topic name starts with).
PREFIX_PATTERN = re.compile(r"[A-Za-z0-9._-]*")


def check_prefix(prefix: str) -> str:
    """TOPIC_PREFIX's rule: characters Kafka allows in a topic name, and at least one letter or
    digit when set (a prefix of separators only would name the default deployment's folders)."""
    if not PREFIX_PATTERN.fullmatch(prefix):
        raise ValueError(f"may hold only letters, digits, '.', '_' and '-' (Kafka's topic names); got {prefix!r}")
    if prefix and not deployment_of(prefix):
        raise ValueError(f"must hold a letter or a digit, like staging- (got {prefix!r})")
    if len(prefix) > 100:
        raise ValueError("must be at most 100 characters (a topic name has at most 249)")
    return prefix


def deployment_of(prefix: str) -> str:
    """The deployment's name: its prefix without the separators around it (`staging-` → `staging`)."""
    return prefix.strip("-._")


def owned(settings: _Prefixed, name: str) -> str:
    """The one rule: a name the deployment gives the cluster is its prefix and the name."""
    return f"{settings.topic_prefix}{name}"
