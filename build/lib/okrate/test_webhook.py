"""`okrate send-test-webhook`: what the seed's `python test_issue_rating.py` did, in either dialect."""

from __future__ import annotations

import asyncio

from sandbox.webhooks import build_webhook, send_webhook


def post_test_webhook(
    url: str, *, issue_id: int, status: str, old_status: str | None, contact_id: int,
    dialect: str, secret: str | None, company_id: int | None = 147,
) -> tuple[int, str]:
    """Posts a realistic status-change webhook; returns the HTTP status (0: no answer) and text."""
    payload = build_webhook(dialect, issue_id, status, old_status, contact_id, company_id,  # type: ignore[arg-type]
                            title=f"Test issue {issue_id}")
    delivery = asyncio.run(send_webhook(url, payload, secret=secret))
    if delivery.status is None:
        return 0, delivery.error or "no answer"
    return delivery.status, delivery.response_text
