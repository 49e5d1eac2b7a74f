"""Table values as JSON bytes: readable in the changelog topics, and tolerant of added fields
(a field missing from an older value takes its default)."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import TypeAdapter

T = TypeVar("T")


class StateCodec(Generic[T]):
    def __init__(self, state_type: type[T]):
        self._adapter = TypeAdapter(state_type)

    def dumps(self, state: T) -> bytes:
        return self._adapter.dump_json(state)

    def loads(self, data: bytes | None) -> T | None:
        if data is None:
            return None
        return self._adapter.validate_json(data)
