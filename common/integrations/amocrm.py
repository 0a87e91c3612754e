"""AmoCRM (Kommo): leads with their contact through /api/v4/leads/complex."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import aiohttp

from common import clock
from common.config import AmoCrmConnection
from common.errors import BadRequest, InvalidField, Unauthorized
from common.integrations.amocrm_oauth import LongLivedToken, NotAuthorized, exchange
from common.integrations.base import (
    Credentials,
    CrmIntegration,
    DeliveryFailure,
    PermanentFailure,
    Reply,
    WebhookRequest,
    classify_http,
    same_secret,
)
from common.integrations.text import lead_text
from common.model import Delivered, Lead, Notice, OAuthTokens
from common.money import money

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


def lead_body(lead: Lead, pipeline_id: int | None) -> list[dict[str, Any]]:
    """The JSON array of one complex lead, as /api/v4/leads/complex takes it."""
    contact_fields = [
        _field(code, value, "WORK")
        for value, code in ((lead.phone, "PHONE"), (lead.email, "EMAIL"))
        if value
    ]
    contact = {
        "name": lead.name or lead.phone or lead.email,
        "custom_fields_values": contact_fields,
    }
    body: dict[str, Any] = {
        "name": f"Заявка: {lead.campaign_id}",
        "request_id": lead.id,
        "_embedded": {"contacts": [contact], "tags": [{"name": lead.campaign_id}]},
    }
    tracking = [
        _field(code, value) for key, code in TRACKING.items() if (value := getattr(lead, key))
    ]
    if tracking:
        body["custom_fields_values"] = tracking
    if pipeline_id is not None:
        body["pipeline_id"] = pipeline_id
    return [body]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class AmoCrmIntegration(CrmIntegration):
    kind = "amocrm"

    def __init__(
        self,
        name: str,
        connection: AmoCrmConnection,
        currency: str = "RUB",
        credentials: Credentials | None = None,
    ):
        super().__init__(name, connection.rate_limit)
        self.connection = connection
        self.credentials = credentials or (
            LongLivedToken(connection.token) if connection.token else NotAuthorized(name)
        )
        self.currency = currency  # AmoCRM's webhooks carry a price but no currency
        base = str(connection.base_url).rstrip("/")
        self.url = base + "/api/v4/leads/complex"
        self.notes_url = base + "/api/v4/leads/notes"

    async def send_lead(self, http: aiohttp.ClientSession, lead: Lead) -> Delivered:
        """The lead with its contact in one call; then the client's words as a note on it.

        Duplicate control (when the account has it on) may join the lead to an existing
        one: the answer says `merged: true` and gives that lead's id. A note that fails
        does not undo a delivered lead: the problem is recorded with the delivery.
        """
        reply = await self.call(
            http,
            "POST",
            self.url,
            json=lead_body(lead, self.connection.pipeline_id),
        )
        classify_http(reply, f"AmoCRM '{self.name}'")
        created = reply.json()
        if not isinstance(created, list) or not created or "id" not in created[0]:
            raise PermanentFailure(f"AmoCRM '{self.name}' answered without a lead id")
        crm_id = str(created[0]["id"])
        merged = created[0].get("merged") is True
        problems: tuple[str, ...] = ()
        try:
            await self._note(http, crm_id, lead_text(lead))
        except DeliveryFailure as failure:
            problems = (f"the note was not added: {failure.message}",)
        return Delivered(crm_id, merged=merged, problems=problems)

    async def _note(self, http: aiohttp.ClientSession, crm_id: str, text: str) -> None:
        note = {"entity_id": int(crm_id), "note_type": "common", "params": {"text": text}}
        reply = await self.call(http, "POST", self.notes_url, json=[note])
        classify_http(reply, f"AmoCRM '{self.name}' notes")

    async def closed_since(
        self, http: aiohttp.ClientSession, cursor: str | None, first_look: datetime
    ) -> tuple[list[dict[str, Any]], str]:
        """Leads updated at or after the cursor (Unix seconds; `first_look` when there is
        none) now won or lost, every page, and the next cursor. Kommo's API reference,
        "Leads list": filter[updated_at][from], order, page and limit (at most 250); 204
        when nothing matches."""
        since = cursor or str(int(first_look.timestamp()))
        found: list[dict[str, Any]] = []
        page: int | None = 1
        while page is not None:
            params = {
                "filter[updated_at][from]": since,
                "order[updated_at]": "asc",
                "limit": "250",
                "page": str(page),
            }
            url = str(self.connection.base_url).rstrip("/") + "/api/v4/leads"
            reply = await self.call(http, "GET", url, params=params)
            if reply.status == 204:
                break
            classify_http(reply, f"AmoCRM '{self.name}' leads")
            body = reply.json() or {}
            leads = (body.get("_embedded") or {}).get("leads") or []
            found += [lead for lead in leads if isinstance(lead, dict)]
            page = page + 1 if (body.get("_links") or {}).get("next") else None
        closed = [lead for lead in found if str(lead.get("status_id")) in (WON, LOST)]
        stamps = [
            int(lead["updated_at"]) for lead in found if str(lead.get("updated_at")).isdigit()
        ]
        return closed, str(max(stamps)) if stamps else since

    def notice_of(self, item: dict[str, Any]) -> Notice:
        """A listed lead as a webhook would have said it."""
        [notice] = parse_status_hook(
            {
                f"leads[status][0][{key}]": str(value)
                for key, value in item.items()
                if key in ("id", "status_id", "price", "updated_at")
            },
            self.currency,
        )
        return notice

    @property
    def reconcile_every(self) -> float | None:
        return self.connection.reconcile_every or None  # 0 turns it off

    def deal_link(self, crm_ref: str) -> str | None:
        if crm_ref.startswith("deal:"):  # amoCRM sends leads, never bare deals
            return None
        return f"{str(self.connection.base_url).rstrip('/')}/leads/detail/{crm_ref}"

    async def call(
        self, http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
    ) -> Reply:
        """A request with the connection's current token. A 401 (amoCRM's answer to an
        expired or revoked access token) asks for a fresh token once and tries again."""
        given = kwargs.pop("headers", None) or {}
        token = await self.credentials.bearer(http)
        reply = await super().call(http, method, url, headers=given | _bearer(token), **kwargs)
        if reply.status == 401 and self.credentials.renewable:
            token = await self.credentials.bearer(http, refused=token)
            reply = await super().call(http, method, url, headers=given | _bearer(token), **kwargs)
        return reply

    async def exchange(
        self, http: aiohttp.ClientSession, grant_type: str, value: str
    ) -> OAuthTokens:
        """A new OAuth pair for an authorization code or the current refresh token."""

        async def post(url: str, **kwargs: Any) -> Reply:
            return await super(AmoCrmIntegration, self).call(http, "POST", url, **kwargs)

        return await exchange(post, self.name, self.connection, grant_type, value)

    def authenticate(self, request: WebhookRequest) -> str | None:
        if not same_secret(
            request.query.get("token"), self.connection.webhook_token.get_secret_value()
        ):
            raise Unauthorized("the ?token= of this webhook URL is missing or wrong")
        return None

    def parse_webhook(self, request: WebhookRequest) -> list[Notice]:
        return parse_status_hook(request.form(), self.currency)


LEAD_KEY = re.compile(r"^leads\[(status|update|add)\]\[(\d+)\]\[(\w+)\]$")
WON, LOST = "142", "143"


def parse_status_hook(form: dict[str, str], currency: str) -> list[Notice]:
    """Notices of a `leads[status][N][…]` webhook; one payload may carry several leads."""
    leads: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    for key, value in form.items():
        if match := LEAD_KEY.match(key):
            leads[(match[1], int(match[2]))][match[3]] = value
    if not leads:
        raise BadRequest("no leads[status][N][...] fields in the body")
    notices = []
    for (section, n), fields in sorted(leads.items()):
        where = f"leads[{section}][{n}]"
        if not fields.get("id", "").isdigit() or not fields.get("status_id", "").isdigit():
            problem = [{"field": where, "message": "id and status_id must be numbers"}]
            raise InvalidField(f"{where}: id and status_id must be numbers", problem)
        crm_id, status = fields["id"], fields["status_id"]
        if status == WON:
            amount, code = money(f"{where}[price]", fields.get("price") or "0", currency)
            paid_at = _unix_iso(fields.get("updated_at") or fields.get("last_modified"))
            notices.append(Notice("paid", crm_id, amount=amount, currency=code, paid_at=paid_at))
        elif status == LOST:
            notices.append(Notice("lost", crm_id))
        else:
            notices.append(Notice("other", crm_id, note=f"status {status} is neither won nor lost"))
    return notices


def _unix_iso(value: str | None) -> str | None:
    """Unix seconds (ASCII digits only: "²" is a digit to str.isdigit, not to int) as a
    time, if it is a plausible one."""
    if not value or not value.isascii() or not value.isdigit() or len(value) > 11:
        return None
    moment = datetime.fromtimestamp(int(value), UTC)
    return clock.iso(moment) if clock.plausible(moment) else None
