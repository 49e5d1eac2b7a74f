"""Generated parts of README.md, between `<!-- NAME:begin ... -->` and `<!-- NAME:end -->`."""

from __future__ import annotations

import re
from pathlib import Path


def replace_section(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:begin[^>]*-->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"README has no {name} section")
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text)


def section(text: str, name: str) -> str:
    match = re.search(rf"<!-- {name}:begin[^>]*-->\n(.*?)<!-- {name}:end -->", text, re.S)
    return match.group(1).rstrip("\n") if match else ""


def generated_sections() -> dict[str, str]:
    from bench.summary import benchmarks_markdown
    from notifier.locale import texts_markdown
    from okrate.settings_doc import settings_markdown

    sections = {"settings": settings_markdown(), "benchmarks": benchmarks_markdown(), "texts": texts_markdown()}
    try:
        from schemas.topics import catalogue_markdown
    except ImportError:
        pass
    else:
        sections["topics"] = catalogue_markdown()
    return sections


def update_readme(path: Path) -> bool:
    text = path.read_text()
    new = text
    for name, body in generated_sections().items():
        if f"<!-- {name}:begin" in new:
            new = replace_section(new, name, body)
    if new != text:
        path.write_text(new)
    return new != text
