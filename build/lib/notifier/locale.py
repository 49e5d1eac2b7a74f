"""Every text the bot shows (and the Okdesk comment's), from locale files, never from code.

The shipped files are `notifier/texts/<locale>.json`; `BOT_TEXTS_DIR` may hold files of the same
names that override them key by key (a missing key falls back to the shipped text). Russian is the
default; `BOT_LOCALE=en` makes English everyone's, `auto` picks by the user's Telegram language
where it is known. A file that cannot be used is reported at start, naming the file and the line:
not JSON, not an object of strings, or a text that uses a `{placeholder}` its key does not have.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from pathlib import Path

SHIPPED_DIR = Path(__file__).parent / "texts"
LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"


class TextsError(ValueError):
    """A locale file that cannot be used; the message names the file (and the line)."""


def _line_of(source: str, key: str) -> int:
    needle = json.dumps(key, ensure_ascii=False)
    for number, line in enumerate(source.splitlines(), start=1):
        if needle in line or json.dumps(key) in line:
            return number
    return 1


def placeholders(template: str) -> set[str]:
    try:
        return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError:
        return {"\0"}  # an unbalanced brace: never a subset of a real key's placeholders


def _load(path: Path, shipped: dict[str, str] | None = None) -> dict[str, str]:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TextsError(f"{path}: cannot be read: {exc}") from None
    try:
        data = json.loads(source)
    except json.JSONDecodeError as exc:
        raise TextsError(f"{path}: line {exc.lineno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise TextsError(f"{path}: line 1: must be a JSON object of texts")
    for key, value in data.items():
        if not isinstance(value, str):
            raise TextsError(f"{path}: line {_line_of(source, key)}: the value of {key!r} must be a string")
        if shipped is not None and key in shipped:
            extra = placeholders(value) - placeholders(shipped[key])
            if extra:
                allowed = ", ".join(f"{{{p}}}" for p in sorted(placeholders(shipped[key]))) or "none"
                shown = ", ".join("an unbalanced { or }" if p == "\0" else f"{{{p}}}" for p in sorted(extra))
                raise TextsError(f"{path}: line {_line_of(source, key)}: {key!r} uses {shown}; "
                                 f"it may use: {allowed}")
    return data


@dataclass(frozen=True)
class Texts:
    tables: dict[str, dict[str, str]]
    mode: str = "auto"  # BOT_LOCALE

    @classmethod
    def load(cls, mode: str = "auto", override_dir: str | Path | None = None) -> Texts:
        tables = {loc: _load(SHIPPED_DIR / f"{loc}.json") for loc in LOCALES}
        if override_dir:
            folder = Path(override_dir)
            if not folder.is_dir():
                raise TextsError(f"{folder}: BOT_TEXTS_DIR is not a folder")
            for loc in LOCALES:
                path = folder / f"{loc}.json"
                if path.exists():
                    shipped = {**tables[DEFAULT_LOCALE], **tables[loc]}
                    tables[loc] = {**tables[loc], **_load(path, shipped)}
        return cls(tables, mode)

    def locale_for(self, language_code: str | None = None) -> str:
        if self.mode in LOCALES:
            return self.mode
        if language_code and language_code.lower().split("-")[0] == "en":
            return "en"
        return DEFAULT_LOCALE

    def get(self, key: str, locale: str = DEFAULT_LOCALE, /, **values: object) -> str:
        table = self.tables.get(locale) or self.tables[DEFAULT_LOCALE]
        template = table.get(key) or self.tables[DEFAULT_LOCALE][key]
        return template.format(**values) if values else template

    def reason_label(self, code: str, locale: str) -> str:
        """A RATING_REASONS entry as shown in `locale`: `reason.<entry>` when a file has it."""
        return self.tables.get(locale, {}).get(f"reason.{code}") or code


def texts_markdown() -> str:
    """The README's table of every text key with its shipped Russian and English defaults."""
    tables = {loc: _load(SHIPPED_DIR / f"{loc}.json") for loc in LOCALES}
    keys = list(tables[DEFAULT_LOCALE]) + [k for k in tables["en"] if k not in tables[DEFAULT_LOCALE]]

    def cell(text: str | None) -> str:
        if text is None:
            return "—"
        return "`" + text.replace("\n", "⏎").replace("|", "\\|").replace("`", "'") + "`"

    lines = ["| key | ru (default) | en |", "|---|---|---|"]
    lines += [f"| `{k}` | {cell(tables['ru'].get(k))} | {cell(tables['en'].get(k))} |" for k in keys]
    return "\n".join(lines) + "\n"
