"""Operators' tools for `contact.links`: add, import, remove, forget, list.

Each writes a record (linked / unlinked / forgotten), never a bare tombstone, so that `/stop` and
a forget stay distinguishable; the streams honour every change.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from confluent_kafka import Producer

from base.kafka_clients import producer_config
from base.names import reader_group
from base.settings import Settings
from base.topic_reader import read_to_end
from schemas.codec import DecodeError, decode, encode
from schemas.keys import contact_key
from schemas.records import ContactLink, utc_now
from schemas.topics import CONTACT_LINKS

CONTACT_ID = re.compile(r"[0-9A-Za-z_-]{1,32}")


class LinkError(ValueError):
    pass


def check_contact_id(value: str) -> str:
    value = value.strip()
    if not CONTACT_ID.fullmatch(value):
        raise LinkError(f"contact id {value!r} is not an Okdesk id")
    return value


def check_telegram_user(value: str | int) -> int:
    try:
        user = int(str(value).strip())
    except ValueError:
        raise LinkError(f"telegram user id {value!r} is not a number") from None
    if not 0 < user < 2**53:
        raise LinkError(f"telegram user id {user} is out of range (users have positive ids)")
    return user


def link_record(contact_id: str, state: str, source: str, telegram_user_id: int | None = None) -> ContactLink:
    return ContactLink(contact_id=contact_id, state=state, telegram_user_id=telegram_user_id,
                       chat_id=telegram_user_id, source=source, changed_at=utc_now())


@dataclass
class ImportPlan:
    to_link: list[tuple[str, int]] = field(default_factory=list)
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def plan_import(text: str, current: dict[str, ContactLink]) -> ImportPlan:
    """Reads `contact_id,telegram_user_id` lines (a header row first); a bad line never aborts the rest."""
    plan = ImportPlan()
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header[:2]] != ["contact_id", "telegram_user_id"]:
        raise LinkError("the first line must be the header contact_id,telegram_user_id")
    seen: dict[str, tuple[int, int]] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 2:
            plan.rejected.append((line, f"expected 2 columns, found {len(row)}"))
            continue
        try:
            contact, user = check_contact_id(row[0]), check_telegram_user(row[1])
        except LinkError as exc:
            plan.rejected.append((line, str(exc)))
            continue
        if contact in seen:
            first_line, first_user = seen[contact]
            if first_user == user:
                plan.unchanged += 1
            else:
                plan.rejected.append((line, f"contact {contact} was already given on line {first_line}"))
            continue
        seen[contact] = (line, user)
        existing = current.get(contact)
        if existing is not None and existing.state == "linked" and existing.telegram_user_id == user:
            plan.unchanged += 1
        else:
            plan.to_link.append((contact, user))
    return plan


class Links:
    def __init__(self, settings: Settings, bootstrap: str):
        self.settings, self.bootstrap = settings, bootstrap
        self.topic = CONTACT_LINKS.full_name(settings)

    def current(self) -> dict[str, ContactLink]:
        """The latest record of every contact (the compacted topic, read to its end)."""
        latest: dict[str, ContactLink] = {}
        for message in read_to_end(self.bootstrap, self.topic, group=reader_group(self.settings, "links")):
            try:
                record = decode(message.value, (ContactLink,))
            except DecodeError:
                continue
            latest[record.contact_id] = record
        return latest

    def write(self, records: list[ContactLink]) -> None:
        producer = Producer(producer_config(self.bootstrap))
        failures: list[str] = []

        def delivered(err, _msg) -> None:
            if err is not None:
                failures.append(str(err))

        for record in records:
            producer.produce(self.topic, key=contact_key(record.contact_id), value=encode(record), on_delivery=delivered)
            producer.poll(0)
        remaining = producer.flush(30)
        if failures or remaining:
            raise LinkError(f"Kafka did not store {len(failures) + remaining} link records: {failures[:3]}")
