"""The event contracts: every schema round-trips through its record class, old messages are read
by newer schemas, bad bytes give a clear error and a dead letter, and the framing is the Avro
specification's own (checked by an independent implementation of its fingerprint, here)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any, ClassVar

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import Codec, DecodeError, EncodeError, decode, default_codec, encode
from schemas.deadletter import (
    dead_letter_message,
    decode_or_deadletter,
    decode_or_send_deadletter,
)
from schemas.records import (
    RECORD_TYPES,
    ContactLink,
    DeadLetter,
    IssueEvent,
    RatingRecorded,
    RatingRequested,
    Record,
)
from schemas.registry import SCHEMA_DIR, SchemaRegistry, SchemaRegistryError, default_registry

REPO = Path(__file__).resolve().parents[2]
WHEN = datetime(2026, 11, 27, 10, 30, 15, 123000, tzinfo=UTC)


# --- the Avro specification's fingerprint, implemented here independently of the codec ---------

EMPTY_64 = 0xC15D213AA4D7A795  # "EMPTY" of the specification's Rabin fingerprint code


def _fp_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY_64 & -(fp & 1))
        table.append(fp)
    return table


FP_TABLE = _fp_table()


def rabin_fingerprint64(data: bytes) -> int:
    fp = EMPTY_64
    for byte in data:
        fp = (fp >> 8) ^ FP_TABLE[(fp ^ byte) & 0xFF]
    return fp


def as_java_long(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def parsing_canonical_form(schema: Any) -> str:
    """The specification's transformations: PRIMITIVES, FULLNAMES, STRIP, ORDER, STRINGS,
    INTEGERS, WHITESPACE."""

    def full(name: str, namespace: str) -> str:
        return name if "." in name or not namespace else f"{namespace}.{name}"

    def form(s: Any, namespace: str, seen: set[str]) -> Any:
        if isinstance(s, str):
            return s if s in PRIMITIVES else full(s, namespace)
        if isinstance(s, list):
            return [form(branch, namespace, seen) for branch in s]
        kind = s["type"]
        if kind in ("record", "error", "enum", "fixed"):
            name = full(s["name"], s.get("namespace", namespace))
            if name in seen:
                return name
            seen.add(name)
            inner = name.rpartition(".")[0]
            out: dict[str, Any] = {"name": name, "type": "record" if kind == "error" else kind}
            if kind in ("record", "error"):
                out["fields"] = [
                    {"name": f["name"], "type": form(f["type"], inner, seen)} for f in s["fields"]
                ]
            if kind == "enum":
                out["symbols"] = s["symbols"]
            if kind == "fixed":
                out["size"] = s["size"]
            return out
        if kind == "array":
            return {"type": "array", "items": form(s["items"], namespace, seen)}
        if kind == "map":
            return {"type": "map", "values": form(s["values"], namespace, seen)}
        return form(kind, namespace, seen)  # {"type": "long", "logicalType": ...} and the like

    return json.dumps(form(schema, "", set()), separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(
    ("schema", "expected"),
    [  # from the Avro project's share/test/data/schema-tests.txt
        ("null", 7195948357588979594),
        ("int", 8247732601305521295),
        ("string", -8142146995180207161),
        ({"fields": [], "type": "record", "name": "foo"}, -4824392279771201922),
    ],
)
def test_the_test_fingerprint_matches_the_avro_projects_vectors(schema: Any, expected: int) -> None:
    assert as_java_long(rabin_fingerprint64(parsing_canonical_form(schema).encode())) == expected


def test_the_test_canonical_form_follows_the_specification() -> None:
    schema = {"type": "record", "name": "foo", "namespace": "x.y", "doc": "d", "fields": [
        {"name": "a", "type": {"type": "long", "logicalType": "timestamp-millis"}, "doc": "d"},
        {"name": "b", "type": ["null", {"type": "map", "values": "string"}], "default": None},
    ]}
    assert parsing_canonical_form(schema) == (
        '{"name":"x.y.foo","type":"record","fields":[{"name":"a","type":"long"},'
        '{"name":"b","type":["null",{"type":"map","values":"string"}]}]}'
    )


def test_single_object_header_of_int_is_the_one_the_avro_project_publishes() -> None:
    fp = rabin_fingerprint64(parsing_canonical_form("int").encode())
    assert (b"\xc3\x01" + fp.to_bytes(8, "little")).hex() == "c3018f5c393f1ad57572"


@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.glob("*.avsc")), ids=lambda p: p.name)
def test_every_message_carries_the_specifications_fingerprint_of_its_schema(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    canonical = parsing_canonical_form(schema)
    fingerprint = rabin_fingerprint64(canonical.encode()).to_bytes(8, "little")
    version = next(
        v for v in default_registry().versions(f"okrate.{schema['name']}") if v.path == path
    )
    assert version.canonical_form == canonical
    assert version.fingerprint == fingerprint
    if version != default_registry().latest(version.full_name):
        return  # an older version: only read, never written
    message = encode(sample_record(default_registry().record_types[version.full_name]))
    assert message[:10] == b"\xc3\x01" + fingerprint


# --- the schema files -------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.glob("*.avsc")), ids=lambda p: p.name)
def test_every_schema_is_namespaced_versioned_and_documented(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["type"] == "record" and schema["namespace"] == "okrate" and schema["doc"]
    assert re.fullmatch(r"[a-z_]+\.v[1-9][0-9]*\.avsc", path.name)
    for field in schema["fields"]:
        assert field.get("doc"), f"{path.name}: field {field['name']} has no doc"
        if isinstance(field["type"], list):
            assert field["type"][0] == "null" and field["default"] is None, field["name"]


def test_every_record_class_has_a_schema_and_every_schema_a_class() -> None:
    registry = default_registry()
    assert sorted(registry.names) == sorted(t.AVRO_NAME for t in RECORD_TYPES)
    assert len(RECORD_TYPES) == len(set(RECORD_TYPES)) == 22


def test_a_record_class_that_drifts_from_its_schema_is_refused(tmp_path: Path) -> None:
    shutil.copy(SCHEMA_DIR / "contact_link.v1.avsc", tmp_path)

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Drifted(Record):
        AVRO_NAME: ClassVar[str] = "okrate.ContactLink"
        contact_id: str

    with pytest.raises(SchemaRegistryError, match="Drifted has fields"):
        SchemaRegistry.from_directory(tmp_path, (Drifted,))


# --- round trips --------------------------------------------------------------------------------

def _value(avro_type: Any, full: bool) -> Any:
    if isinstance(avro_type, list):
        return _value(avro_type[1], full) if full else None
    if isinstance(avro_type, dict):
        if avro_type.get("logicalType") == "timestamp-millis":
            return WHEN
        if avro_type.get("type") == "array":
            item = {"string": "okdesk.events:3:1380 «Принтер» 👍"}[avro_type["items"]]
            return [item, item + "2"] if full else []
        values = {"string": "Проблема <решена> & 👍", "long": 2**53 + 7}[avro_type["values"]]
        return {"1": values, "ключ": values} if full else {}
    return {
        "string": "1380 «Принтер» <b>&amp;",
        "long": -(2**62),
        "int": 2**31 - 1,
        "boolean": True,
        "double": 4.25,
        "bytes": b'\x00\xff{"event": {"event_type": "new_ticket_status"}}',
    }[avro_type]


def sample_record(record_type: type[Record], full: bool = True) -> Record:
    schema = default_registry().latest(record_type.AVRO_NAME).schema
    return record_type(**{f["name"]: _value(f["type"], full) for f in schema["fields"]})


@pytest.mark.parametrize("full", [True, False], ids=["all-fields", "only-required"])
@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=lambda t: t.__name__)
def test_every_record_round_trips(record_type: type[Record], full: bool) -> None:
    record = sample_record(record_type, full)
    assert decode(encode(record)) == record


@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=lambda t: t.__name__)
def test_a_decoded_record_is_the_one_its_class_makes_frozen(record_type: type[Record]) -> None:
    """Decoding skips a plain record class's `__init__`: the record must be indistinguishable
    from one made by it (its fields, in order; frozen; `replace` works)."""
    record = sample_record(record_type)
    decoded = decode(encode(record))
    assert type(decoded) is record_type and list(vars(decoded).items()) == list(vars(record).items())
    first = dataclasses.fields(record_type)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(decoded, first, getattr(record, first))
    assert dataclasses.replace(decoded, **{first: getattr(record, first)}) == record


def test_timestamps_decode_as_aware_utc_datetimes_and_may_be_written_as_millis() -> None:
    link = ContactLink(contact_id="95", state="linked", source="operator",
                       changed_at=int(WHEN.timestamp() * 1000))  # type: ignore[arg-type]
    decoded = decode(encode(link))
    assert decoded.changed_at == WHEN and decoded.changed_at.tzinfo is not None


def _strategy(avro_type: Any) -> st.SearchStrategy[Any]:
    text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
    if isinstance(avro_type, list):
        return st.none() | _strategy(avro_type[1])
    if isinstance(avro_type, dict):
        if avro_type.get("logicalType") == "timestamp-millis":
            return st.integers(0, 7_000_000_000_000).map(
                lambda ms: datetime.fromtimestamp(ms / 1000, UTC).replace(microsecond=ms % 1000 * 1000)
            )
        if avro_type.get("type") == "array":
            return st.lists(_strategy(avro_type["items"]), max_size=4)
        return st.dictionaries(text, _strategy(avro_type["values"]), max_size=4)
    return {
        "string": text,
        "long": st.integers(-(2**63), 2**63 - 1),
        "int": st.integers(-(2**31), 2**31 - 1),
        "boolean": st.booleans(),
        "double": st.floats(allow_nan=False),
        "bytes": st.binary(max_size=64),
    }[avro_type]


def _records(record_type: type[Record]) -> st.SearchStrategy[Record]:
    schema = default_registry().latest(record_type.AVRO_NAME).schema
    return st.builds(record_type, **{f["name"]: _strategy(f["type"]) for f in schema["fields"]})


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(RECORD_TYPES).flatmap(_records))
def test_any_values_round_trip(record: Record) -> None:
    assert decode(encode(record)) == record


def test_decode_accepts_only_the_expected_types() -> None:
    message = encode(sample_record(RatingRecorded))
    assert isinstance(decode(message, expected=(RatingRecorded,)), RatingRecorded)
    with pytest.raises(DecodeError) as error:
        decode(message, expected=(RatingRequested,))
    assert error.value.reason == "unexpected_type"


def test_a_value_of_the_wrong_type_is_refused_when_encoding() -> None:
    bad = dataclasses.replace(sample_record(IssueEvent), source_offset="12")  # type: ignore[arg-type]
    with pytest.raises(EncodeError, match="IssueEvent"):
        encode(bad)
    with pytest.raises(EncodeError, match="not a registered"):
        encode(object())  # type: ignore[arg-type]


# --- schema evolution ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, kw_only=True)
class ContactLinkV2(Record):
    AVRO_NAME: ClassVar[str] = "okrate.ContactLink"
    contact_id: str
    state: str
    telegram_user_id: int | None = None
    chat_id: int | None = None
    source: str
    changed_at: datetime
    operator: str | None = None


@pytest.fixture
def codec_v2(tmp_path: Path) -> Codec:
    shutil.copy(SCHEMA_DIR / "contact_link.v1.avsc", tmp_path)
    schema = json.loads((SCHEMA_DIR / "contact_link.v1.avsc").read_text(encoding="utf-8"))
    schema["fields"].append({"name": "operator", "type": ["null", "string"], "default": None,
                             "doc": "Who made the change, for operator changes."})
    (tmp_path / "contact_link.v2.avsc").write_text(json.dumps(schema), encoding="utf-8")
    return Codec(SchemaRegistry.from_directory(tmp_path, (ContactLinkV2,)))


def test_a_v1_message_is_read_by_a_v2_reader(codec_v2: Codec) -> None:
    v1 = ContactLink(contact_id="95", state="linked", telegram_user_id=123456, chat_id=123456,
                     source="operator", changed_at=WHEN)
    read = codec_v2.decode(encode(v1))
    assert read == ContactLinkV2(contact_id="95", state="linked", telegram_user_id=123456,
                                 chat_id=123456, source="operator", changed_at=WHEN, operator=None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CheckedContactLink(Record):
    AVRO_NAME: ClassVar[str] = "okrate.ContactLink"
    contact_id: str
    state: str
    telegram_user_id: int | None = None
    chat_id: int | None = None
    source: str
    changed_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", self.state.upper())


def test_a_record_class_that_does_more_in_init_is_decoded_through_it() -> None:
    codec = Codec(SchemaRegistry.from_directory(SCHEMA_DIR, (*[
        t for t in RECORD_TYPES if t.AVRO_NAME != "okrate.ContactLink"], CheckedContactLink)))
    link = ContactLink(contact_id="95", state="linked", source="operator", changed_at=WHEN)
    assert codec.decode(encode(link)).state == "LINKED"


def test_a_v2_message_round_trips_and_is_unknown_to_a_v1_reader(codec_v2: Codec) -> None:
    v2 = ContactLinkV2(contact_id="95", state="unlinked", source="operator", changed_at=WHEN,
                       operator="anna")
    message = codec_v2.encode(v2)
    assert codec_v2.decode(message) == v2
    assert message[2:10] != encode(sample_record(ContactLink))[2:10]
    with pytest.raises(DecodeError) as error:
        decode(message)  # deploy new schemas to readers before writers use them
    assert error.value.reason == "unknown_fingerprint"


# --- bad bytes -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (None, "empty"),
        (b"", "empty"),
        (b"\xc3\x01\x00", "truncated"),
        (b'{"event": {"event_type": "new_ticket"}}', "bad_marker"),
        (b"\x00\x00\x00\x00\x01" + b"\x00" * 12, "bad_marker"),  # Confluent framing
        (b"\xc3\x01" + b"\x00" * 8 + b"\x02", "unknown_fingerprint"),
    ],
)
def test_bad_bytes_give_a_clear_error(data: bytes | None, reason: str) -> None:
    with pytest.raises(DecodeError) as error:
        decode(data)
    assert error.value.reason == reason
    assert str(error.value).startswith(reason)


def test_every_truncation_of_a_message_is_refused() -> None:
    message = encode(sample_record(RatingRequested))
    for length in range(1, len(message)):
        with pytest.raises(DecodeError):
            decode(message[:length])


def test_bytes_after_the_datum_are_corrupt() -> None:
    with pytest.raises(DecodeError) as error:
        decode(encode(sample_record(ContactLink)) + b"\x00")
    assert error.value.reason == "corrupt"


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(RECORD_TYPES), st.binary(max_size=200))
def test_garbage_behind_a_known_header_decodes_or_gives_a_clear_error(
    record_type: type[Record], garbage: bytes
) -> None:
    header = encode(sample_record(record_type, full=False))[:10]
    try:
        decode(header + garbage)
    except DecodeError as error:
        assert error.reason in {"corrupt", "truncated"}


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(RECORD_TYPES), st.data())
def test_a_flipped_byte_decodes_or_gives_a_clear_error(record_type: type[Record], data: Any) -> None:
    message = bytearray(encode(sample_record(record_type)))
    position = data.draw(st.integers(0, len(message) - 1))
    message[position] ^= data.draw(st.integers(1, 255))
    try:
        decode(bytes(message))
    except DecodeError:
        pass


# --- dead letters --------------------------------------------------------------------------------

def test_what_cannot_be_decoded_becomes_a_dead_letter_with_its_origin() -> None:
    decoded = decode_or_deadletter(b"not avro", key=b"1380", topic="t-okdesk.events",
                                   partition=3, offset=42, consumer="normalise")
    assert decoded.record is None
    letter = decoded.dead_letter
    assert letter is not None
    assert (letter.reason, letter.source_topic, letter.source_partition, letter.source_offset) == (
        "bad_marker", "t-okdesk.events", 3, 42)
    assert letter.source_key == b"1380" and letter.value == b"not avro"
    assert letter.consumer == "normalise" and "c301" in letter.error
    key, value = dead_letter_message(letter)
    assert key == b"1380" and decode(value, expected=(DeadLetter,)) == letter


def test_a_good_message_needs_no_dead_letter() -> None:
    record = sample_record(IssueEvent)
    decoded = decode_or_deadletter(encode(record), key=b"1380", topic="issue.events",
                                   partition=0, offset=0, expected=(IssueEvent,))
    assert decoded.record == record and decoded.dead_letter is None


async def test_the_async_helper_sends_the_dead_letter_and_returns_none() -> None:
    sent: list[tuple[bytes | None, bytes]] = []

    async def send(key: bytes | None, value: bytes) -> None:
        sent.append((key, value))

    unknown = b"\xc3\x01" + b"\xee" * 8 + b"\x00"
    assert await decode_or_send_deadletter(unknown, key=None, topic="rating.received",
                                           partition=1, offset=7, send=send) is None
    [(key, value)] = sent
    letter = decode(value)
    assert key is None and letter.reason == "unknown_fingerprint" and letter.value == unknown
    record = sample_record(ContactLink)
    assert await decode_or_send_deadletter(encode(record), key=b"95", topic="contact.links",
                                           partition=0, offset=1, send=send) == record
    assert len(sent) == 1


# --- what an analyst does, from the README ------------------------------------------------------

def test_the_readmes_analyst_snippet_decodes_every_record(monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (REPO / "schemas" / "README.md").read_text(encoding="utf-8")
    snippet = re.search(r"```python\n(.*?)```", readme, re.S)
    assert snippet is not None
    monkeypatch.chdir(REPO)
    namespace: dict[str, Any] = {}
    exec(snippet.group(1), namespace)
    for record_type in RECORD_TYPES:
        record = sample_record(record_type)
        as_dict = namespace["decode"](encode(record))
        assert as_dict.pop("_type") == record_type.AVRO_NAME
        assert as_dict == dataclasses.asdict(record)


def test_plain_fastavro_reads_a_message_with_the_avsc_file_alone() -> None:
    record = sample_record(RatingRecorded)
    schema = json.loads((SCHEMA_DIR / "rating_recorded.v1.avsc").read_text(encoding="utf-8"))
    datum = fastavro.schemaless_reader(BytesIO(encode(record)[10:]), fastavro.parse_schema(schema))
    assert RatingRecorded(**datum) == record
    assert default_codec() is default_codec()
