"""Avro single-object encoding of okrate's records, exactly as the Avro specification defines it.

A message is `C3 01`, then the 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's
Parsing Canonical Form, then the Avro binary datum. Any consumer can decode it from the `.avsc`
files alone. Decoding finds the writer schema by fingerprint among every version ever written and
resolves it to the latest version, the one the record classes mirror.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import fields, is_dataclass
from functools import cache
from io import BytesIO
from typing import Any, TypeVar

from fastavro import schemaless_reader, schemaless_writer

from schemas.avro_writer import compile_writer
from schemas.records import Record
from schemas.registry import SchemaRegistry, default_registry

MARKER = b"\xc3\x01"
HEADER_SIZE = len(MARKER) + 8

R = TypeVar("R", bound=Record)


class DecodeError(ValueError):
    """Bytes that are not an okrate message. `reason` is short and machine-readable: `empty`,
    `truncated`, `bad_marker`, `unknown_fingerprint`, `corrupt` or `unexpected_type`."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class EncodeError(ValueError):
    """A record whose values do not fit its schema (a wrong type, a missing value)."""


class Codec:
    def __init__(self, registry: SchemaRegistry):
        self.registry = registry
        self._writers: dict[type[Record], tuple[bytes, Any]] = {}
        # Each latest schema compiled to one function (`schemas.avro_writer`); fastavro encodes
        # what it does not.
        self._compiled: dict[type[Record], Any] = {}
        for name, record_type in registry.record_types.items():
            latest = registry.latest(name)
            self._writers[record_type] = (MARKER + latest.fingerprint, latest.parsed)
            if (compiled := compile_writer(latest.schema, MARKER + latest.fingerprint)) is not None:
                self._compiled[record_type] = compiled
        # fingerprint -> (writer schema, reader schema or None when they are the same, class)
        self._readers: dict[bytes, tuple[Any, Any, type[Record]]] = {}
        self._plain: dict[type[Record], bool] = {}  # classes a datum can become without __init__
        for fingerprint, version in registry.by_fingerprint.items():
            latest = registry.latest(version.full_name)
            reader = None if latest.fingerprint == fingerprint else latest.parsed
            record_type = registry.record_types[version.full_name]
            self._readers[fingerprint] = (version.parsed, reader, record_type)
            self._plain[record_type] = _plain(record_type, latest.schema)

    def fingerprints(self, record_types: Collection[type[Record]]) -> frozenset[bytes]:
        """The fingerprints of every schema version of these record types: a reader can tell a
        message's type from its header alone (`data[2:10]`), without decoding it."""
        return frozenset(fp for fp, (_, _, record_type) in self._readers.items() if record_type in record_types)

    def encode(self, record: Record) -> bytes:
        if (compiled := self._compiled.get(type(record))) is not None:
            try:
                return compiled(record.__dict__)
            except Exception:  # a value it does not cover: fastavro encodes it, or names the error
                pass
        try:
            header, schema = self._writers[type(record)]
        except KeyError:
            raise EncodeError(f"{type(record).__name__} is not a registered okrate record") from None
        out = BytesIO()
        out.write(header)
        try:
            schemaless_writer(out, schema, record.__dict__)
        except (TypeError, ValueError, OverflowError, AttributeError) as exc:
            raise EncodeError(f"{type(record).__name__}: {exc}") from exc
        return out.getvalue()

    def decode(self, data: bytes | None, expected: Collection[type[R]] | None = None) -> R:
        """The record in `data`; with `expected`, only those record types are accepted."""
        if not data:
            raise DecodeError("empty", "no bytes (a tombstone or an empty message)")
        if data[:2] != MARKER[: len(data)]:
            raise DecodeError("bad_marker", f"starts with {bytes(data[:2]).hex()}, not c301")
        if len(data) < HEADER_SIZE:
            raise DecodeError("truncated", f"{len(data)} bytes, shorter than the 10-byte header")
        fingerprint = bytes(data[2:HEADER_SIZE])
        entry = self._readers.get(fingerprint)
        if entry is None:
            raise DecodeError("unknown_fingerprint", f"no schema has fingerprint {fingerprint.hex()}")
        writer, reader, record_type = entry
        if expected is not None and record_type not in expected:
            raise DecodeError("unexpected_type", f"{record_type.__name__} is not expected here")
        source = BytesIO(data)
        source.seek(HEADER_SIZE)
        try:
            datum = schemaless_reader(source, writer, reader)
        except Exception as exc:  # any failure of the reader on these bytes means corrupt data
            raise DecodeError("corrupt", f"{record_type.__name__}: {type(exc).__name__}: {exc}") from exc
        if source.tell() != len(data):
            raise DecodeError("corrupt", f"{len(data) - source.tell()} bytes after the {record_type.__name__} datum")
        if self._plain[record_type]:
            record = object.__new__(record_type)
            object.__setattr__(record, "__dict__", datum)
            return record  # type: ignore[return-value]
        return record_type(**datum)  # type: ignore[return-value]


def _plain(record_type: type, schema: dict) -> bool:
    """Whether a datum of the latest schema (every field, in the class's order) is the record's
    `__dict__` exactly as its `__init__` would make it: a frozen dataclass whose fields are all
    set by `__init__` and that does nothing more there. Then decoding skips the `__init__` (one
    `object.__setattr__` per field, a frozen dataclass's cost, a fifth of a decode)."""
    if not is_dataclass(record_type) or hasattr(record_type, "__post_init__") or not record_type.__dictoffset__:
        return False  # (no __dict__: a slotted class)
    names = [f.name for f in fields(record_type)]
    return all(f.init for f in fields(record_type)) and names == [f["name"] for f in schema["fields"]]


@cache
def default_codec() -> Codec:
    return Codec(default_registry())


def encode(record: Record) -> bytes:
    return default_codec().encode(record)


def decode(data: bytes | None, expected: Collection[type[R]] | None = None) -> R:
    return default_codec().decode(data, expected)
