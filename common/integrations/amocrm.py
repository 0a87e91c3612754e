"""AmoCRM (Kommo): leads with their contact through /api/v4/leads/complex."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

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
    TemporaryFailure,
    WebhookRequest,
    classify_http,
    is_crm_id,
    same_secret,
)
from common.integrations.text import lead_text
from common.model import Delivered, Json, JsonObject, Lead, Notice, OAuthTokens
from common.money import money
from common.reconciling import Page, Recheck, Window, recheck

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


# After a token fresh from a refresh is refused, how long a 401 asks for no other: the
# refreshes stop while a person fixes the account (the first 401 is on /healthz at once),
# and one is tried again after this, as when the token runs out by its time.
REFRESH_PAUSE = timedelta(minutes=10)


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


def _crm_id(value: object) -> str | None:
    """An amoCRM id as its API writes them (an integer), in the text we keep; None for
    anything else (null, "abc", 1.5, true)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        return None
    return text if is_crm_id(text) else None


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
        # Until when a 401 is not answered with a refresh: set when a token fresh from one
        # was refused too (see `call`).
        self.refresh_paused_until = datetime.min.replace(tzinfo=UTC)
        base = str(connection.base_url).rstrip("/")
        self.url = base + "/api/v4/leads/complex"
        self.notes_url = base + "/api/v4/leads/notes"

    async def send_lead(
        self, http: aiohttp.ClientSession, lead: Lead, retry: bool = False
    ) -> Delivered:
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
        first = created[0] if isinstance(created, list) and created else None
        crm_id = _crm_id(first.get("id")) if isinstance(first, dict) else None
        if first is None or crm_id is None:
            # The CRM may hold the lead all the same: another POST could add it twice.
            raise PermanentFailure(
                f"AmoCRM '{self.name}' answered HTTP {reply.status} without a lead id:"
                f" {reply.excerpt()[:200]}"
            )
        merged = first.get("merged") is True
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

    async def closed_page(self, http: aiohttp.ClientSession, window: Window) -> Page:
        """Leads updated within one piece of the window (Unix seconds), now won or lost.

        amoCRM pages by number over a list an edit reorders (Kommo's API reference, "Leads
        list": filter[updated_at][from]/[to], order, `page`, `limit` at most 250, `_links.next`
        while more remain, 204 when nothing matches): an edit between two pages would shift
        a lead past us. So a piece whose answer has a next page is split in two until each
        fits on one page, read whole in one answer; a lead edited meanwhile leaves the window
        for a later one. Only a single second with more than 250 changes is paged."""
        pieces, page = _pieces(window)
        low, high = pieces[-1]
        params = {
            "filter[updated_at][from]": str(low),
            "filter[updated_at][to]": str(high - 1),
            "order[id]": "asc",
            "limit": str(LIST_LIMIT),
            "page": str(page),
        }
        url = str(self.connection.base_url).rstrip("/") + "/api/v4/leads"
        reply = await self.call(http, "GET", url, params=params)
        found, more = ([], False) if reply.status == 204 else self._listed(reply)
        if more and page == 1 and high - low > 1:
            middle = (low + high) // 2
            return Page([], _place([*pieces[:-1], [middle, high], [low, middle]]))
        place: JsonObject | None
        if more:
            if page >= MOST_PAGES_IN_A_SECOND:
                raise PermanentFailure(f"AmoCRM '{self.name}' lists leads past page {page}")
            place = _place(pieces, page + 1)
        else:
            place = _place(pieces[:-1]) if len(pieces) > 1 else None
        leads = [lead for lead in found if isinstance(lead, dict)]
        closed = [lead for lead in leads if str(lead.get("status_id")) in (WON, LOST)]
        return Page(closed, place, len(found) - len(leads))

    def _listed(self, reply: Reply) -> tuple[list[object], bool]:
        """The entries of one answer's leads, and whether it says more remain."""
        classify_http(reply, f"AmoCRM '{self.name}' leads")
        body = reply.json()
        embedded = body.get("_embedded") if isinstance(body, dict) else None
        leads = embedded.get("leads") if isinstance(embedded, dict) else None
        if not isinstance(leads, list):  # no lead is 204: this is no answer, not "none"
            raise TemporaryFailure(
                f"AmoCRM '{self.name}' leads answered HTTP {reply.status} without a list of"
                f" leads: {reply.excerpt()[:200]}"
            )
        if len(leads) > LIST_LIMIT:
            raise PermanentFailure(f"AmoCRM '{self.name}' listed {len(leads)} leads on one page")
        links = body.get("_links")
        more = isinstance(links, dict) and bool(links.get("next"))
        return leads, more

    rechecks_payments = True

    def payment_ref(self, lead: Lead) -> str | None:
        return lead.crm_lead_id

    async def payments_now(self, http: aiohttp.ClientSession, refs: list[str]) -> Recheck:
        """The amoCRM leads that paid ours, read again by id in one request: Kommo's API
        reference, "Leads list" and "API Filtration": `filter[id][]` once per id, `limit` up
        to 250; 204 when none matches. Deleted leads are not listed: one missing is deleted."""
        asked = [ref for ref in refs if ref.isascii() and ref.isdigit()][:LIST_LIMIT]
        params = [("filter[id][]", ref) for ref in asked] + [("limit", str(LIST_LIMIT))]
        url = str(self.connection.base_url).rstrip("/") + "/api/v4/leads"
        reply = await self.call(http, "GET", url, params=params)
        found, _ = ([], False) if reply.status == 204 else self._listed(reply)
        return recheck(asked, found, lambda lead: str(lead.get("id", "")), self.notice_of, _gone)

    async def webhook_problem(self, http: aiohttp.ClientSession) -> str | None:
        """Our webhook switched off. amoCRM does that after more than 100 answers outside 2xx
        within two hours; Kommo's API reference, "List of webhooks" (GET /api/v4/webhooks,
        administrators only): each has `destination` and `disabled`."""
        url = str(self.connection.base_url).rstrip("/") + "/api/v4/webhooks"
        reply = await self.call(http, "GET", url)
        if reply.status == 204:
            return None
        classify_http(reply, f"AmoCRM '{self.name}' webhooks")
        body = reply.json()
        embedded = body.get("_embedded") if isinstance(body, dict) else None
        hooks = embedded.get("webhooks") if isinstance(embedded, dict) else None
        ours = f"/api/v1/webhooks/crm/{self.name}"
        for hook in hooks if isinstance(hooks, list) else []:
            if not isinstance(hook, dict) or hook.get("disabled") is not True:
                continue
            where = urlsplit(str(hook.get("destination") or ""))
            if where.path.rstrip("/") == ours:  # the query holds our token: never shown
                return (
                    f"amoCRM has switched off its webhook to {where.netloc}{where.path}"
                    " (after too many failed answers): switch it on again in amoCRM"
                )
        return None

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
        # closed_at is when the lead was won (Kommo's "Leads list"); updated_at moves with
        # any later edit, and would date the sale days late in Metrica.
        closed_at = _unix_iso(str(item.get("closed_at") or ""))
        if notice.outcome == "paid" and closed_at is not None:
            return replace(notice, paid_at=closed_at)
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
        expired or revoked access token) asks for a fresh token once and tries again.

        A fresh token refused too says the token is not what is wrong (the account, or the
        integration's access to it, is): for REFRESH_PAUSE no 401 asks for another, else
        every call (each lead, each retry) would spend a refresh while a person is needed."""
        given = kwargs.pop("headers", None) or {}
        token = await self.credentials.bearer(http)
        reply = await super().call(http, method, url, headers=given | _bearer(token), **kwargs)
        if (
            reply.status == 401
            and self.credentials.renewable
            and clock.now() >= self.refresh_paused_until
        ):
            token = await self.credentials.bearer(http, refused=token)
            reply = await super().call(http, method, url, headers=given | _bearer(token), **kwargs)
            if reply.status == 401:
                self.refresh_paused_until = clock.now() + REFRESH_PAUSE
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


LEAD_KEY = re.compile(r"^leads\[(status|update|add|delete)\]\[(\d+)\]\[(\w+)\]$")
LIST_LIMIT = 250  # Kommo's "Leads list": `limit` at most 250
MOST_PAGES_IN_A_SECOND = 40  # 10,000 leads changed in one second: a CRM that never ends


def _pieces(window: Window) -> tuple[list[list[int]], int]:
    """The pieces of the window still to read (the next last) and the page of the next."""
    place = window.place or {}
    stored = place.get("pieces")
    pieces = [
        piece for item in (stored if isinstance(stored, list) else []) if (piece := _span(item))
    ]
    if not pieces:
        pieces = [[int(window.since.timestamp()), int(window.until.timestamp())]]
    page = place.get("page")
    return pieces, page if isinstance(page, int) and not isinstance(page, bool) and page > 1 else 1


def _place(pieces: list[list[int]], page: int = 1) -> JsonObject:
    spans: list[Json] = [[low, high] for low, high in pieces]
    return {"pieces": spans, "page": page}


def _span(item: object) -> list[int] | None:
    """A stored piece [from, to) of Unix seconds, if it is one."""
    if not isinstance(item, list) or len(item) != 2:
        return None
    low, high = item
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (low, high)):
        return None
    return [low, high] if low < high else None


WON, LOST = "142", "143"


def _gone(crm_id: str) -> Notice:
    return Notice("deleted", crm_id, note=f"lead {crm_id} is gone from amoCRM")


def parse_status_hook(form: dict[str, str], currency: str) -> list[Notice]:
    """Notices of a `leads[status][N][…]` webhook; one payload may carry several leads."""
    leads: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    for key, value in form.items():
        if match := LEAD_KEY.match(key):
            if not is_crm_id(match[2]):
                problem = [{"field": key[:80], "message": "the index must be a number"}]
                raise InvalidField(f"{key:.80}: the index must be a number", problem)
            leads[(match[1], int(match[2]))][match[3]] = value
    if not leads:
        return [_unused_event(form)]
    notices = []
    # A deletion is the last thing that can happen to a lead: one body may carry a lead's
    # win and its deletion (amoCRM posts the events of a moment together), and the lead
    # must end deleted, so deletions go last.
    for (section, n), fields in sorted(leads.items(), key=lambda item: _deleted_last(*item[0])):
        where = f"leads[{section}][{n}]"
        if section == "delete":
            notices.append(deleted_notice(where, fields))
            continue
        if not is_crm_id(fields.get("id", "")) or not is_crm_id(fields.get("status_id", "")):
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


def _deleted_last(section: str, n: int) -> tuple[bool, str, int]:
    return section == "delete", section, n


ENTITY_KEY = re.compile(r"^(\w+\[\w+\])")


def _unused_event(form: dict[str, str]) -> Notice:
    """An amoCRM event that is not a lead's (a contact, note, task or company an admin may
    tick) is answered 2xx and ignored: Kommo's webhooks page (developers.kommo.com, docs/
    webhooks-general) says a hook is switched off after more than 100 answers outside 2xx
    in two hours, and that would stop the payments with it. Every amoCRM webhook carries
    account[...]; a body without it is not amoCRM's and stays a 400."""
    if not any(key.startswith("account[") for key in form):
        raise BadRequest("no leads[status][N][...] fields in the body")
    kinds = sorted(
        {m[1] for key in form if not key.startswith("account[") and (m := ENTITY_KEY.match(key))}
    )
    what = ", ".join(kinds[:3]) or "no entity"
    return Notice("other", note=f"an amoCRM event we do not use ({what})")


def deleted_notice(where: str, fields: dict[str, str]) -> Notice:
    """A `leads[delete][N][…]` entry: Kommo's webhooks ("Lead deleted", developers.kommo.com
    docs/webhooks-general) name the deleted lead by `id`; a payment it made is reversed."""
    if not is_crm_id(fields.get("id", "")):
        problem = [{"field": where, "message": "id must be a number"}]
        raise InvalidField(f"{where}: id must be a number", problem)
    return Notice("deleted", fields["id"])


def _unix_iso(value: str | None) -> str | None:
    """Unix seconds (ASCII digits only: "²" is a digit to str.isdigit, not to int) as a
    time, if it is a plausible one."""
    if not value or not value.isascii() or not value.isdigit() or len(value) > 11:
        return None
    moment = datetime.fromtimestamp(int(value), UTC)
    return clock.iso(moment) if clock.plausible(moment) else None
