"""The compiled Avro writers write exactly fastavro's bytes, for every record of every schema, and
a value they do not cover is fastavro's to encode or to refuse, as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.avro_writer import LONG_MAX, LONG_MIN, compile_writer, zigzag
from schemas.codec import Codec, EncodeError
from schemas.registry import default_registry

REGISTRY = default_registry()
SCHEMAS = {name: REGISTRY.latest(name) for name in REGISTRY.record_types}
INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(LONG_MIN, LONG_MAX)
TIMES = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                     timezones=st.sampled_from([UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-5))]))


def values(schema) -> st.SearchStrategy:
    """Every value fastavro encodes for this (field) schema, as okrate's records hold them."""
    if isinstance(schema, list):
        return st.one_of(*(values(branch) for branch in schema))
    if isinstance(schema, dict):
        if schema.get("logicalType") == "timestamp-millis":
            return TIMES | INT64
        if schema["type"] == "map":
            return st.dictionaries(st.text(), values(schema["values"]), max_size=4)
        if schema["type"] == "array":
            return st.lists(values(schema["items"]), max_size=4)
        return values(schema["type"])
    return {"null": st.none(), "boolean": st.booleans(), "int": INT32, "long": INT64, "string": st.text(),
            "bytes": st.binary(), "double": st.floats(), "float": st.floats(width=32)}[schema]


def records(name: str) -> st.SearchStrategy:
    return st.fixed_dictionaries({f["name"]: values(f["type"]) for f in SCHEMAS[name].schema["fields"]})


def fastavro_bytes(name: str, datum: dict) -> bytes:
    out = BytesIO()
    fastavro.schemaless_writer(out, SCHEMAS[name].parsed, datum)
    return out.getvalue()


def test_every_schema_okrate_has_is_compiled():
    assert all(compile_writer(version.schema) is not None for version in SCHEMAS.values())


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_compiled_writer_writes_fastavros_bytes(name, data):
    datum = data.draw(records(name))
    assert compile_writer(SCHEMAS[name].schema)(datum) == fastavro_bytes(name, datum)


def test_lengths_and_counts_of_any_size():
    assert [zigzag(n) for n in (0, -1, 1, 63, -64, 64, 300)] == [
        b"\x00", b"\x01", b"\x02", b"\x7e", b"\x7f", b"\x80\x01", b"\xd8\x04"]
    schema = {"type": "record", "name": "T", "fields": [{"name": "s", "type": "string"},
                                                        {"name": "m", "type": {"type": "map", "values": "long"}}]}
    parsed = fastavro.parse_schema(schema)
    datum = {"s": "ж" * 5000, "m": {str(i): i * 10**12 for i in range(200)}}
    out = BytesIO()
    fastavro.schemaless_writer(out, parsed, datum)
    assert compile_writer(schema)(datum) == out.getvalue()


def test_a_schema_with_a_type_it_does_not_cover_is_left_to_fastavro():
    enum = {"type": "record", "name": "E", "fields": [
        {"name": "e", "type": {"type": "enum", "name": "Colour", "symbols": ["RED"]}}]}
    two_branches = {"type": "record", "name": "U", "fields": [{"name": "u", "type": ["string", "long"]}]}
    assert compile_writer(enum) is None and compile_writer(two_branches) is None


ODD_VALUES = st.one_of(st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=3),
                       st.binary(max_size=3).map(bytearray), st.datetimes(), st.none(), st.just("\ud800"),
                       st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))


@pytest.mark.parametrize("name", ["okrate.IssueEvent", "okrate.OkdeskWebhookEnvelope", "okrate.StatsSnapshot"])
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_value_encodes_or_fails_as_fastavro_alone_would(name, data):
    """A record with one field of any type: the codec answers what fastavro answered before."""
    datum = data.draw(records(name))
    field = data.draw(st.sampled_from([f["name"] for f in SCHEMAS[name].schema["fields"]]))
    datum[field] = data.draw(ODD_VALUES)
    codec, record_type = Codec(REGISTRY), REGISTRY.record_types[name]
    record = object.__new__(record_type)
    object.__setattr__(record, "__dict__", datum)
    try:
        expected = codec._writers[record_type][0] + fastavro_bytes(name, datum)
    except (TypeError, ValueError, OverflowError, AttributeError):
        with pytest.raises(EncodeError):
            codec.encode(record)
        return
    assert codec.encode(record) == expected
