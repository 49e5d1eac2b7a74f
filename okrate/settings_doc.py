"""The README's table of variables and `okrate settings`, both generated from `Settings`."""

from __future__ import annotations

from datetime import timedelta

from base.durations import format_duration
from base.names import derived
from base.redact import mask_secret, mask_url
from base.settings import Settings

SECRET_FIELDS = {"webhook_secret", "okdesk_api_token", "telegram_bot_token", "telegram_webhook_secret", "admin_token"}


def _show(value: object) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def settings_markdown() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(unset)" if default in (None, "", ()) else _show(default)
        if name == "topic_retention" and default is None:
            shown = "off"
        rows.append(f"| `{name.upper()}` | `{shown}` | {field.description or ''} |")
    return "\n".join(rows)


def settings_summary(settings: Settings) -> str:
    lines = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if name in SECRET_FIELDS:
            shown = mask_secret(value)
        elif isinstance(value, str) and "://" in value:
            shown = mask_url(value)
        else:
            shown = _show(value)
        lines.append(f"{name.upper():34} {shown}")
    lines += ["", "derived from TOPIC_PREFIX (what the deployment owns on the cluster):"]
    lines += [f"  {what:34} {value}" for what, value in derived(settings)]
    return "\n".join(lines)
