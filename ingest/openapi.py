"""The ingest's endpoints as OpenAPI 3.0 (served at /openapi.json; schemathesis tests against it)."""

from __future__ import annotations

from typing import Any

from base.settings import Settings

ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
ACCEPTED = {"type": "object", "properties": {"status": {"type": "string"}, "partition": {"type": "integer"},
                                             "offset": {"type": "integer"}}, "required": ["status"]}
STATUS = {"type": "object", "properties": {"status": {"type": "string"}}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_document(settings: Settings) -> dict[str, Any]:
    webhook_body = {
        "type": "object",
        "description": "An Okdesk webhook in either dialect: the seed's (`issue.status_changed`, ...) or real Okdesk's (`new_ticket_status`, ...). It must have an `event` or an `issue` object.",
        "properties": {
            "event": {"type": "object", "nullable": True, "properties": {"event_type": {"type": "string", "nullable": True}}},
            "issue": {"type": "object", "nullable": True,
                      "properties": {"id": {"nullable": True, "oneOf": [{"type": "integer"}, {"type": "string"}]}}},
        },
        "anyOf": [
            {"required": ["event"], "properties": {"event": {"type": "object", "nullable": False}}},
            {"required": ["issue"], "properties": {"issue": {"type": "object", "nullable": False}}},
        ],
    }
    refused = {
        "400": _json(ERROR, "not a webhook (not JSON, not an object, neither `event` nor `issue`)"),
        "401": _json(ERROR, "the signature or token is missing or wrong"),
        "408": _json(ERROR, "the body arrived too slowly"),
        "413": _json(ERROR, f"the body is larger than WEBHOOK_MAX_BYTES ({settings.webhook_max_bytes})"),
        "503": _json(ERROR, "Kafka did not acknowledge the write in time; retry (see Retry-After)"),
    }
    paths: dict[str, Any] = {
        settings.webhook_path: {
            "get": {"summary": "Readiness text, as the seed specifies",
                    "responses": {"200": _json({"type": "object", "properties": {"message": {"type": "string"}, "path": {"type": "string"}},
                                                "required": ["message", "path"]}, "ready")}},
            "post": {
                "summary": "Okdesk's webhook: appended raw to `okdesk.events`, answered after Kafka acknowledged",
                "parameters": [
                    {"name": "token", "in": "query", "required": False, "schema": {"type": "string"},
                     "description": "WEBHOOK_SECRET, for Okdesk accounts that cannot sign"},
                    {"name": "X-Okdesk-Signature", "in": "header", "required": False, "schema": {"type": "string"},
                     "description": "HMAC-SHA256 of the raw body: hex digest, or `sha256=<hex>`"},
                    {"name": "X-Webhook-Token", "in": "header", "required": False, "schema": {"type": "string"}},
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": webhook_body}}},
                "responses": {"200": _json(ACCEPTED, "stored in Kafka"), **refused},
            },
        },
        "/healthz": {"get": {"summary": "Alive", "responses": {"200": _json(STATUS, "alive")}}},
        "/readyz": {"get": {"summary": "Kafka reachable", "responses": {"200": _json(STATUS, "ready"), "503": _json(STATUS, "Kafka unreachable")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text exposition format",
                                                                                   "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
    }
    if settings.telegram_webhook_secret:
        paths[settings.telegram_webhook_path] = {"post": {
            "summary": "Telegram's updates in webhook mode: appended raw to `telegram.updates`",
            "parameters": [{"name": "X-Telegram-Bot-Api-Secret-Token", "in": "header", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"update_id": {"type": "integer"}}, "required": ["update_id"]}}}},
            "responses": {"200": _json(ACCEPTED, "stored in Kafka"), **refused},
        }}
    return {"openapi": "3.0.3", "info": {"title": "okrate ingest", "version": "1"}, "paths": paths}
