"""Every text the bot shows (and the Okdesk comment's), from locale files, never from code.

The shipped files are `notifier/texts/<locale>.json`; `BOT_TEXTS_DIR` may hold files of the same
names that override them key by key (a missing key falls back to the shipped text). Russian is the
default; `BOT_LOCALE=en` makes English everyone's, `auto` picks by the user's Telegram language
where it is known.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SHIPPED_DIR = Path(__file__).parent / "texts"
LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"


class TextsError(ValueError):
    """A locale file that cannot be used; the message names the file (and the line)."""


def _load(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TextsError(f"{path}: line {exc.lineno}: {exc.msg}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise TextsError(f"{path}: must be a JSON object of strings")
    return data


@dataclass(frozen=True)
class Texts:
    tables: dict[str, dict[str, str]]
    mode: str = "auto"  # BOT_LOCALE

    @classmethod
    def load(cls, mode: str = "auto", override_dir: str | Path | None = None) -> Texts:
        tables = {loc: _load(SHIPPED_DIR / f"{loc}.json") for loc in LOCALES}
        if override_dir:
            for loc in LOCALES:
                path = Path(override_dir) / f"{loc}.json"
                if path.exists():
                    tables[loc] = {**tables[loc], **_load(path)}
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
