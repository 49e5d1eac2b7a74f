"""Every setting okrate reads, in one place: environment variables and `.env`.

The names are the contract (the seed's own first, then ../shared/design.md's list). The README's
table of variables is generated from this class (`okrate settings --markdown`), so the two cannot
drift apart. Validation reports every bad variable at once, by its name.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from base.durations import parse_duration
from base.prefix import check_prefix, owned


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    result = parse_duration(str(value))
    assert result is not None
    return result


def _duration_or_off(value: Any) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    return parse_duration(str(value), allow_off=True)


def _csv(value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(part.strip() for part in str(value or "").split(",") if part.strip())


Duration = Annotated[timedelta, BeforeValidator(_duration)]
OptionalDuration = Annotated[timedelta | None, BeforeValidator(_duration_or_off)]
CsvList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_csv)]


def _check_url(name: str, value: str | None) -> str | None:
    if value in (None, ""):
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"must be an http(s) URL with a host, like https://example.org/ (got {value!r})")
    return value


class Settings(BaseSettings):
    """okrate's configuration. Field descriptions become the README's table."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # The seed's own
    webhook_url: str | None = Field(None, description="Public URL of the webhook, as configured in Okdesk (informational).")
    webhook_path: str = Field("/okdesk-webhook", description="Path the ingest serves the Okdesk webhook on.")
    webhook_secret: str | None = Field(None, description="Shared secret: HMAC-SHA256 key of the signature header, or the `?token=` / `X-Webhook-Token` value. Unset: webhooks are accepted unauthenticated (a warning is logged).")
    okdesk_api_url: str | None = Field(None, description="Okdesk REST API base, e.g. `https://acme.okdesk.ru/api/v1/`. Unset together with `TELEGRAM_BOT_TOKEN`: sandbox mode.")
    okdesk_api_token: str | None = Field(None, description="Okdesk API token (sent as the `api_token` query parameter; masked in logs).")
    okdesk_portal_url: str | None = Field(None, description="Okdesk portal, for links to issues in messages, e.g. `https://acme.okdesk.ru`.")

    # Kafka
    kafka_bootstrap_servers: str | None = Field(None, description="Kafka bootstrap servers. Unset: `make run` starts the local broker and okrate uses it.")
    topic_prefix: str = Field("", description="The deployment's name on the cluster (e.g. `staging-`): every topic, consumer group, the streams application id (so its changelogs), scratch ids and the data folders are named from it, so several deployments share one cluster. Unset: the default names.")
    topic_partitions: int = Field(8, ge=1, description="Partitions of every issue-keyed topic, fixed once: changing it re-homes keys.")
    topic_retention: OptionalDuration = Field(None, description="Retention of the event topics; `off` (default) keeps them forever: they are the source of truth.")
    kafka_port: int = Field(9092, description="Port of the local broker started by `okrate kafka up`.")
    kafka_data_dir: str = Field("var/kafka", description="Data folder of the local broker (the event store; kept across restarts).")
    okrate_cache_dir: str | None = Field(None, description="Where the Kafka jars are cached (default `~/.cache/okrate`).")

    # Ingest
    ingest_host: str = Field("0.0.0.0", description="Address the ingest listens on.")
    ingest_port: int = Field(8080, description="Port of the ingest (the public one).")
    ingest_workers: int = Field(1, ge=1, description="Processes `okrate ingest` runs on its port (SO_REUSEPORT), each with its own Kafka producer; `okrate run` always starts one.")
    webhook_max_bytes: int = Field(1024 * 1024, ge=1024, description="Largest webhook body accepted (413 above).")
    ingest_publish_timeout: Duration = Field(timedelta(seconds=5), description="How long the ingest waits for Kafka's acknowledgement before answering 503.")
    telegram_webhook_path: str = Field("/telegram-webhook", description="Path of the Telegram webhook on the ingest (webhook mode).")
    telegram_webhook_secret: str | None = Field(None, description="Secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token` (webhook mode).")

    # Rules
    rating_statuses: CsvList = Field(("resolved", "closed", "completed", "done", "finished", "solved"), description="Final status codes that ask for a rating (comma-separated, exact, case-insensitive).")
    rating_issue_types: CsvList = Field((), description="Only issues of these type codes are rated (empty: all).")
    rating_groups: CsvList = Field((), description="Only issues assigned to these group ids are rated (empty: all).")
    rating_expiry: Duration = Field(timedelta(days=7), description="How long a rating request accepts a rating.")
    rating_remind_after: OptionalDuration = Field(timedelta(hours=24), description="One reminder after this long without an answer; `off` for none.")
    rating_reasons: CsvList = Field(("Долго", "Проблема не решена", "Невежливо", "Другое"), description="Reason buttons offered after a score of 3 or less.")

    # Streams
    streams_data_dir: str | None = Field(None, description="Data folder of a streams worker (its table stores). Unset: `var/streams`, or `var/<deployment>/streams` with a `TOPIC_PREFIX`. Two workers on one host need two folders.")
    streams_store: str = Field("rocksdb://", description="Faust table store: `rocksdb://` (production) or `memory://`.")
    streams_app_id: str | None = Field(None, description="Overrides the streams application's id (its consumer group, changelogs, internal topics). Unset: `<TOPIC_PREFIX>okrate-streams`.")

    # Statistics
    stats_port: int = Field(6066, description="Port of the streams worker's web views (`/stats`, `/dashboard`).")
    stats_timezone: str = Field("Europe/Moscow", description="Time zone of days and weeks in statistics, and of quiet hours.")
    dashboard_login_failures: int = Field(5, ge=1, description="Failed dashboard logins (the form, or a wrong bearer token) one client address may make in `DASHBOARD_LOGIN_WINDOW`; beyond them it is answered 429 with `Retry-After`.")
    dashboard_login_window: Duration = Field(timedelta(minutes=15), description="The window of `DASHBOARD_LOGIN_FAILURES`.")
    admin_token: str | None = Field(None, description="Bearer token that guards `/stats`, `/dashboard` and the sandbox page. Unset: the streams worker serves its web views on 127.0.0.1 only. Set it in production.")

    # Telegram
    telegram_bot_token: str | None = Field(None, description="Bot token from @BotFather. Unset together with `OKDESK_API_URL`: sandbox mode.")
    telegram_api_url: str = Field("https://api.telegram.org", description="Bot API base URL (a self-hosted Bot API server works).")
    telegram_webhook_url: str | None = Field(None, description="Set: Telegram delivers updates to this URL (the ingest) instead of polling.")
    telegram_max_per_second: float = Field(30.0, gt=0, description="Messages per second to Telegram in total.")
    telegram_max_per_chat_per_second: float = Field(1.0, gt=0, description="Messages per second to one chat.")
    telegram_press_answer_wait: Duration = Field(timedelta(seconds=2), description="How long a press's spinner waits for the streams' decision, to answer with it (score taken, already rated, not yours, expired, ...); after it a neutral word. Telegram takes an answer for a few seconds only: at most `8s`; `0s` answers at once.")
    bot_locale: str = Field("auto", description="`auto` (the user's Telegram language, Russian by default), `ru` or `en`.")
    bot_texts_dir: str | None = Field(None, description="Folder of locale files overriding the shipped texts, key by key.")
    quiet_hours: str | None = Field(None, description="e.g. `22:00-09:00` (in `STATS_TIMEZONE`): requests and reminders wait for its end; `off` or unset: none.")
    notifier_host: str = Field("127.0.0.1", description="Address of the notifier's /healthz and /metrics.")
    notifier_port: int = Field(6067, description="Port of the notifier's /healthz and /metrics.")
    bot_new_issues_per_day: int = Field(10, ge=1, description="Issues one Telegram user may create through the bot per day (in `STATS_TIMEZONE`); beyond it a polite answer names when they can again, and nothing reaches Okdesk.")
    bot_phone_links_per_hour: int = Field(5, ge=1, description="Phone numbers one Telegram user may have searched in Okdesk's contacts in any hour (linking by phone); beyond it the bot answers when to try again.")
    bot_reason_max_chars: int = Field(1000, ge=10, le=4096, description="Longest free-text reason passed on to Okdesk; a longer one is answered with a request to shorten it.")
    bot_reasons_per_request: int = Field(3, ge=1, description="Free-text reasons one user may give for one rating request.")
    link_invite_ttl: Duration = Field(timedelta(days=7), description="Lifetime of a link invite token.")
    alert_chat_id: int | None = Field(None, description="Staff chat that gets every low rating; unset: no alerts.")
    alert_max_score: int = Field(2, ge=1, le=5, description="Scores up to this one are alerted.")

    # Okdesk writes
    okdesk_author_id: int | None = Field(None, description="Okdesk employee id that authors okrate's comments (and whose comments okrate ignores). Required with `OKDESK_API_URL`: Okdesk refuses comments without it.")
    okdesk_comment_public: bool = Field(False, description="Whether okrate's rating comment is public.")
    okdesk_set_native_rate: bool = Field(True, description="Also set Okdesk's own 3-point rating.")
    okdesk_retry_for: Duration = Field(timedelta(hours=1), description="How long a failing Okdesk write is retried (with backoff) before it is `failed`.")
    okdesk_sweep_every: OptionalDuration = Field(timedelta(minutes=10), description="How often the sweep asks the Okdesk API for resolutions whose webhook never came (the active notifier runs it); `off` for none.")
    okdesk_sweep_since: datetime | None = Field(None, description="The sweep's first start, ISO 8601 (e.g. `2026-12-01T00:00:00+03:00`): nothing completed before it is ever asked about. Unset: the moment the sweep first ran against the account. Read once, when no position is stored yet.")

    # Sandbox
    sandbox_port: int = Field(8090, description="Sandbox mode: the sandbox page; the Bot API stand-in listens on the next port, the Okdesk stand-in on the one after.")

    # Logs
    log_format: str = Field("text", description="`text` or `json`.")
    log_level: str = Field("INFO", description="Python logging level.")

    @field_validator("okdesk_api_url", "okdesk_portal_url", "telegram_webhook_url", "webhook_url")
    @classmethod
    def _urls(cls, value: str | None, info: Any) -> str | None:
        return _check_url(info.field_name, value)

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return check_prefix(value)

    @field_validator("streams_app_id", "streams_data_dir")
    @classmethod
    def _unset_if_empty(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        _check_url("telegram_api_url", value)
        return value.rstrip("/")

    @field_validator("webhook_path", "telegram_webhook_path")
    @classmethod
    def _paths(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"must start with / (got {value!r})")
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _bot_token(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        head, _, tail = value.partition(":")
        if not head.isdigit() or len(tail) < 20:
            raise ValueError("must look like 123456789:AA... (digits, a colon, the secret from @BotFather)")
        return value

    @field_validator("telegram_press_answer_wait")
    @classmethod
    def _press_wait(cls, value: timedelta) -> timedelta:
        if not timedelta(0) <= value <= timedelta(seconds=8):
            raise ValueError("must be between 0s and 8s: Telegram takes a press's answer for a few seconds only")
        return value

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value.lower() not in {"text", "json"}:
            raise ValueError("must be text or json")
        return value.lower()

    @field_validator("bot_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if value.lower() not in {"auto", "ru", "en"}:
            raise ValueError("must be auto, ru or en")
        return value.lower()

    @field_validator("stats_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except Exception as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value in (None, "") or value.lower() == "off":
            return None
        import re

        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError("must look like 22:00-09:00, or off")
        return value.strip()

    @field_validator("okdesk_sweep_since")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    def topic(self, name: str) -> str:
        return owned(self, name)

    @property
    def sandbox_mode(self) -> bool:
        return not self.telegram_bot_token and not self.okdesk_api_url

    def half_configured(self) -> str | None:
        """What is missing when only one of Telegram and Okdesk is configured."""
        if self.telegram_bot_token and not self.okdesk_api_url:
            return "TELEGRAM_BOT_TOKEN is set but OKDESK_API_URL is not: set both, or neither for sandbox mode"
        if self.okdesk_api_url and not self.telegram_bot_token:
            return "OKDESK_API_URL is set but TELEGRAM_BOT_TOKEN is not: set both, or neither for sandbox mode"
        if self.okdesk_api_url and not self.okdesk_api_token:
            return "OKDESK_API_URL is set but OKDESK_API_TOKEN is not"
        return None

    def author_missing(self) -> str | None:
        """Okdesk refuses comments without `author_id` (422): outside sandbox mode
        OKDESK_AUTHOR_ID is required (okrate's children in sandbox mode get the stand-in's)."""
        if self.okdesk_api_url and self.okdesk_author_id is None:
            return ("OKDESK_AUTHOR_ID is not set: Okdesk refuses comments without author_id; set it to the id "
                    "of the employee whose OKDESK_API_TOKEN okrate uses")
        return None


class ConfigError(SystemExit):
    """Raised with every problem at once; the CLI prints it and exits non-zero."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        text = "okrate: the configuration has problems:\n" + "\n".join(f"  - {p}" for p in problems)
        super().__init__(text)


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "?"
            message = err["msg"].removeprefix("Value error, ")
            problems.append(f"{name}: {message}")
        raise ConfigError(problems) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
