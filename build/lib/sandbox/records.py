"""What a stand-in remembers about each call it answered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CallRecord:
    """One answered call. Tokens never appear in ``params`` or ``path``."""

    method: str  # Bot API method ("sendMessage") or Okdesk endpoint name ("add_comment")
    params: dict[str, Any]
    at: float  # the stand-in's clock when the call arrived
    status: int
    response: Any
    path: str = ""  # Okdesk: "POST /api/v1/issues/5/comments"
    raw_query: str = ""  # Okdesk: the query string as sent (percent-encoded), api_token removed

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300
