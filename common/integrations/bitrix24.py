"""Bitrix24: leads through the inbound webhook's crm.lead.add; deals read with crm.deal.get."""

from __future__ import annotations

from typing import Any

import aiohttp

from common.config import Bitrix24Connection
from common.integrations.base import (
    CrmIntegration,
    PermanentFailure,
    Reply,
    TemporaryFailure,
    classify_http,
)

# Bitrix24 error codes that mean "later", whatever the HTTP status.
TEMPORARY_ERRORS = {"QUERY_LIMIT_EXCEEDED", "OVERLOAD_LIMIT", "INTERNAL_SERVER_ERROR"}
UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


def lead_fields(lead: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "TITLE": f"Заявка: {lead['campaign_id']}",
        "SOURCE_ID": "WEB",
    }
    if lead.get("name"):
        fields["NAME"] = lead["name"]
    for key in ("phone", "email"):
        if lead.get(key):
            fields[key.upper()] = [{"VALUE": lead[key], "VALUE_TYPE": "WORK"}]
    for key in UTM:
        if lead.get(key):
            fields[key.upper()] = lead[key]
    if lead.get("comment"):
        fields["COMMENTS"] = lead["comment"]
    if lead.get("page_url"):
        fields["SOURCE_DESCRIPTION"] = lead["page_url"]
    return fields


def result_of(reply: Reply, service: str) -> Any:
    """The `result` of a Bitrix24 REST answer, or the failure its error means."""
    body = reply.json()
    error = body.get("error") if isinstance(body, dict) else None
    if error:
        detail = body.get("error_description", "")
        message = f"{service} answered HTTP {reply.status}: {error}: {detail}".strip()
        if error in TEMPORARY_ERRORS:
            raise TemporaryFailure(message, reply.retry_after())
        if reply.status in (401, 403) or reply.status >= 500:
            classify_http(reply, service)
        raise PermanentFailure(message)
    classify_http(reply, service)
    if not isinstance(body, dict) or "result" not in body:
        raise PermanentFailure(f"{service} answered without a result")
    return body["result"]


class Bitrix24Integration(CrmIntegration):
    kind = "bitrix24"

    def __init__(self, name: str, connection: Bitrix24Connection):
        super().__init__(name, connection.rate_limit)
        self.connection = connection
        self.base = str(connection.base_url).rstrip("/")

    async def method(self, http: aiohttp.ClientSession, name: str, params: dict) -> Any:
        reply = await self.call(http, "POST", f"{self.base}/{name}.json", json=params)
        return result_of(reply, f"Bitrix24 '{self.name}' {name}")

    async def send_lead(self, http: aiohttp.ClientSession, lead: dict[str, Any]) -> str | None:
        params = {"fields": lead_fields(lead), "params": {"REGISTER_SONET_EVENT": "Y"}}
        return str(await self.method(http, "crm.lead.add", params))

    async def get_deal(self, http: aiohttp.ClientSession, deal_id: str) -> dict[str, Any]:
        deal = await self.method(http, "crm.deal.get", {"id": deal_id})
        if not isinstance(deal, dict):
            raise PermanentFailure(f"Bitrix24 '{self.name}' crm.deal.get gave no deal")
        return deal
