"""Any HTTP endpoint: a JSON lead.created event signed per Standard Webhooks."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from common.config import GenericConnection
from common.integrations.base import CrmIntegration, classify_http
from common.signing import signed_headers

LEAD_KEYS = (
    "id",
    "campaign_id",
    "name",
    "phone",
    "email",
    "comment",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "yclid",
    "ym_client_id",
    "page_url",
    "referrer",
    "extra",
    "created_at",
)


def message_id(lead_id: str) -> str:
    """Stable per lead, so a receiver can recognise a redelivery."""
    return f"lead.created.{lead_id}"


def event_body(lead: dict[str, Any]) -> bytes:
    payload = {"type": "lead.created", "lead": {key: lead.get(key) for key in LEAD_KEYS}}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class GenericIntegration(CrmIntegration):
    kind = "generic"

    def __init__(self, name: str, connection: GenericConnection):
        super().__init__(name, connection.rate_limit)
        self.connection = connection

    async def send_lead(self, http: aiohttp.ClientSession, lead: dict[str, Any]) -> str | None:
        body = event_body(lead)
        secret = self.connection.secret.get_secret_value()
        headers = signed_headers(secret, message_id(lead["id"]), body)
        headers["Content-Type"] = "application/json"
        reply = await self.call(http, "POST", str(self.connection.url), data=body, headers=headers)
        classify_http(reply, f"generic CRM '{self.name}'")
        answer = reply.json()
        if isinstance(answer, dict) and answer.get("id") is not None:
            return str(answer["id"])
        return None
