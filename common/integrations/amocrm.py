"""AmoCRM (Kommo): leads with their contact through /api/v4/leads/complex."""

from __future__ import annotations

from typing import Any

import aiohttp

from common.config import AmoCrmConnection
from common.integrations.base import CrmIntegration, PermanentFailure, classify_http

# AmoCRM's tracking-data fields are addressed by field_code.
TRACKING = {
    "utm_source": "UTM_SOURCE",
    "utm_medium": "UTM_MEDIUM",
    "utm_campaign": "UTM_CAMPAIGN",
    "utm_content": "UTM_CONTENT",
    "utm_term": "UTM_TERM",
    "yclid": "YCLID",
    "ym_client_id": "_YM_UID",
    "referrer": "REFERRER",
}


def _field(code: str, value: str, enum_code: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"value": value}
    if enum_code:
        item["enum_code"] = enum_code
    return {"field_code": code, "values": [item]}


def lead_body(lead: dict[str, Any], pipeline_id: int | None) -> list[dict[str, Any]]:
    """The JSON array of one complex lead, as /api/v4/leads/complex takes it."""
    contact_fields = [
        _field(code, lead[key], "WORK")
        for key, code in (("phone", "PHONE"), ("email", "EMAIL"))
        if lead.get(key)
    ]
    contact = {
        "name": lead.get("name") or lead.get("phone") or lead.get("email"),
        "custom_fields_values": contact_fields,
    }
    body: dict[str, Any] = {
        "name": f"Заявка: {lead['campaign_id']}",
        "request_id": lead["id"],
        "_embedded": {"contacts": [contact], "tags": [{"name": lead["campaign_id"]}]},
    }
    tracking = [_field(code, lead[key]) for key, code in TRACKING.items() if lead.get(key)]
    if tracking:
        body["custom_fields_values"] = tracking
    if pipeline_id is not None:
        body["pipeline_id"] = pipeline_id
    return [body]


class AmoCrmIntegration(CrmIntegration):
    kind = "amocrm"

    def __init__(self, name: str, connection: AmoCrmConnection):
        super().__init__(name, connection.rate_limit)
        self.connection = connection
        self.url = str(connection.base_url).rstrip("/") + "/api/v4/leads/complex"

    async def send_lead(self, http: aiohttp.ClientSession, lead: dict[str, Any]) -> str | None:
        token = self.connection.token.get_secret_value()
        reply = await self.call(
            http,
            "POST",
            self.url,
            json=lead_body(lead, self.connection.pipeline_id),
            headers={"Authorization": f"Bearer {token}"},
        )
        classify_http(reply, f"AmoCRM '{self.name}'")
        created = reply.json()
        if not isinstance(created, list) or not created or "id" not in created[0]:
            raise PermanentFailure(f"AmoCRM '{self.name}' answered without a lead id")
        return str(created[0]["id"])
