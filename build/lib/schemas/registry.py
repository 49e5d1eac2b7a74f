"""Every Avro schema version in `schemas/avro/`, by fingerprint and by record name.

Files are named `<record_name_in_snake_case>.v<N>.avsc`; every version ever written stays, because
messages written with it stay in the topics. The highest version of a record is the one okrate
writes and reads into (its dataclass mirrors it); older ones are only writer schemas to resolve.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.records import RECORD_TYPES, Record

SCHEMA_DIR = Path(__file__).parent / "avro"
_FILE_NAME = re.compile(r"^(?P<stem>[a-z0-9_]+)\.v(?P<version>[1-9][0-9]*)\.avsc$")


class SchemaRegistryError(Exception):
    """The schema files and the record classes disagree; raised when the registry is built."""


@dataclass(frozen=True)
class SchemaVersion:
    full_name: str
    version: int
    path: Path
    schema: dict[str, Any]  # the file's JSON
    parsed: Any  # fastavro's parsed form, used by the reader and writer
    canonical_form: str  # Avro Parsing Canonical Form
    fingerprint: bytes  # CRC-64-AVRO of the canonical form, 8 bytes little-endian


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def load_schema_file(path: Path) -> SchemaVersion:
    match = _FILE_NAME.match(path.name)
    if not match:
        raise SchemaRegistryError(f"{path.name}: schema files are named <record>.v<N>.avsc")
    schema = json.loads(path.read_text(encoding="utf-8"))
    full_name = f"{schema['namespace']}.{schema['name']}"
    if snake_case(schema["name"]) != match["stem"]:
        raise SchemaRegistryError(f"{path.name}: holds record {schema['name']}, not {match['stem']}")
    canonical = to_parsing_canonical_form(schema)
    return SchemaVersion(
        full_name=full_name,
        version=int(match["version"]),
        path=path,
        schema=schema,
        # Each file gets its own name space: v1 and v2 of a record define the same name.
        parsed=parse_schema(schema, named_schemas={}),
        canonical_form=canonical,
        fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
    )


class SchemaRegistry:
    def __init__(self, versions: Iterable[SchemaVersion], record_types: Iterable[type[Record]]):
        by_name: dict[str, list[SchemaVersion]] = {}
        for version in versions:
            by_name.setdefault(version.full_name, []).append(version)
        self._versions = {name: sorted(vs, key=lambda v: v.version) for name, vs in by_name.items()}
        self.record_types: dict[str, type[Record]] = {t.AVRO_NAME: t for t in record_types}
        self.by_fingerprint: dict[bytes, SchemaVersion] = {}
        for name, versions_of_name in self._versions.items():
            numbers = [v.version for v in versions_of_name]
            if numbers != list(range(1, len(numbers) + 1)):
                raise SchemaRegistryError(f"{name}: versions {numbers} are not 1..N without gaps")
            for version in versions_of_name:
                # Versions differing only in docs or defaults share a canonical form; the oldest
                # serves as the writer schema, which reads the same bytes.
                self.by_fingerprint.setdefault(version.fingerprint, version)
        self._check_record_types()

    @classmethod
    def from_directory(
        cls, directory: Path = SCHEMA_DIR, record_types: Iterable[type[Record]] = RECORD_TYPES
    ) -> SchemaRegistry:
        return cls((load_schema_file(p) for p in sorted(directory.glob("*.avsc"))), record_types)

    def _check_record_types(self) -> None:
        schema_names, class_names = set(self._versions), set(self.record_types)
        if schema_names != class_names:
            raise SchemaRegistryError(
                f"schemas without a record class: {sorted(schema_names - class_names)}; "
                f"record classes without a schema: {sorted(class_names - schema_names)}"
            )
        for name, record_type in self.record_types.items():
            schema_fields = [f["name"] for f in self.latest(name).schema["fields"]]
            class_fields = [f.name for f in fields(record_type)]  # type: ignore[arg-type]
            if sorted(schema_fields) != sorted(class_fields):
                raise SchemaRegistryError(
                    f"{record_type.__name__} has fields {class_fields}, but the latest schema of "
                    f"{name} ({self.latest(name).path.name}) has {schema_fields}"
                )

    @property
    def names(self) -> list[str]:
        return sorted(self._versions)

    def versions(self, full_name: str) -> list[SchemaVersion]:
        return list(self._versions[full_name])

    def latest(self, full_name: str) -> SchemaVersion:
        return self._versions[full_name][-1]


@cache
def default_registry() -> SchemaRegistry:
    return SchemaRegistry.from_directory()
