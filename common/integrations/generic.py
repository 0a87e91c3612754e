"""Any HTTP endpoint: a JSON lead.created event signed per Standard Webhooks."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from common import clock
from common.config import GenericConnection
from common.errors import BadRequest, InvalidField
from common.integrations.base import CrmIntegration, WebhookRequest, classify_http
from common.model import LEAD_FIELDS, Delivered, Lead, Notice
from common.money import money
from common.signing import Signer, verify

# The longest id a payment webhook may name (crm_lead_id), and so the longest kept from an
# answer to a delivery.
ID_LIMIT = 100
LEAD_KEYS = ("id", "campaign_id", *LEAD_FIELDS, "extra", "created_at")


def message_id(lead_id: str) -> str:
    """Stable per lead, so a receiver can recognise a redelivery."""
    return f"lead.created.{lead_id}"


def event_body(lead: Lead) -> bytes:
    """Compact UTF-8 JSON (what json.dumps(ensure_ascii=False) with tight separators
    writes, at a fraction of its cost)."""
    payload = {"type": "lead.created", "lead": {key: getattr(lead, key) for key in LEAD_KEYS}}
    return orjson.dumps(payload)


class GenericIntegration(CrmIntegration):
    kind = "generic"

    def __init__(self, name: str, connection: GenericConnection):
        super().__init__(name, connection.rate_limit)
        self.connection = connection
        self.signer = Signer(connection.secret.get_secret_value())

    async def send_lead(
        self, http: aiohttp.ClientSession, lead: Lead, retry: bool = False
    ) -> Delivered:
        body = event_body(lead)
        headers = self.signer.headers(message_id(lead.id), body)
        headers["Content-Type"] = "application/json"
        reply = await self.call(http, "POST", str(self.connection.url), data=body, headers=headers)
        classify_http(reply, f"generic CRM '{self.name}'")
        answer = reply.json()
        given = answer.get("id") if isinstance(answer, dict) else None
        if given is None:
            return Delivered(None)
        usable = isinstance(given, str | int) and not isinstance(given, bool)
        if not usable or len(str(given)) > ID_LIMIT or "\x00" in str(given):
            # Delivered all the same; an id no payment webhook could name is not kept.
            problem = f"the answer's id was not kept: not a string of at most {ID_LIMIT} characters"
            return Delivered(None, problems=(problem,))
        return Delivered(str(given))

    def authenticate(self, request: WebhookRequest) -> str | None:
        return verify(self.connection.secret.get_secret_value(), request.headers, request.body)

    def parse_webhook(self, request: WebhookRequest) -> list[Notice]:
        return [parse_payment_event(request.body)]


def _invalid(field: str, message: str) -> InvalidField:
    return InvalidField(f"{field}: {message}", [{"field": field, "message": message}])


def parse_payment_event(body: bytes) -> Notice:
    """{"type": "payment" | "lost", "lead_id" | "crm_lead_id", "amount", "currency", "paid_at"?}"""
    try:
        event = orjson.loads(body)  # refuses nesting past 1,024 levels and 65-bit integers
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"body is not valid JSON: {error}") from error
    if not isinstance(event, dict):
        raise BadRequest("the JSON body must be an object")
    kind = event.get("type")
    lead_id, crm_lead_id = event.get("lead_id"), event.get("crm_lead_id")
    if kind not in ("payment", "lost"):
        return Notice("other", note=f"type {kind!r} is not handled")
    for name, value in (("lead_id", lead_id), ("crm_lead_id", crm_lead_id)):
        if value is None:
            continue
        # bool is an int to Python: `true` would look for a lead "True"
        if isinstance(value, bool) or not isinstance(value, str | int) or len(str(value)) > 100:
            raise _invalid(name, "must be a string of at most 100 characters")
        if "\x00" in str(value):  # SQLite kept it, PostgreSQL refused it: one answer on both
            raise _invalid(name, "must not hold a NUL character (U+0000)")
    if lead_id is None and crm_lead_id is None:
        raise _invalid("lead_id", "lead_id or crm_lead_id is required")
    ours = None if lead_id is None else str(lead_id)
    theirs = None if crm_lead_id is None else str(crm_lead_id)
    if kind == "lost":
        return Notice("lost", lead_id=ours, crm_lead_id=theirs)
    amount, currency = money("amount", event.get("amount"), event.get("currency"))
    return Notice(
        "paid",
        lead_id=ours,
        crm_lead_id=theirs,
        amount=amount,
        currency=currency,
        paid_at=_paid_at(event),
    )


def _paid_at(event: dict[str, Any]) -> str | None:
    value = event.get("paid_at")
    if value is None:
        return None
    try:
        moment = clock.parse(str(value))
    except ValueError:
        raise _invalid("paid_at", "must be an ISO-8601 time") from None
    if not clock.plausible(moment):
        raise _invalid("paid_at", "must be between 2000-01-01 and now")
    return clock.iso(moment)
