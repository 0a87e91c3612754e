"""Bitrix24: leads through the inbound webhook's crm.lead.add; deals read with crm.deal.get."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp

from common import clock
from common.config import Bitrix24Connection
from common.errors import InvalidField, Unauthorized
from common.integrations.base import (
    CrmIntegration,
    PermanentFailure,
    Reply,
    TemporaryFailure,
    WebhookRequest,
    classify_http,
    is_crm_id,
    same_secret,
)
from common.integrations.text import lead_text
from common.model import UTM_FIELDS, Delivered, Lead, Notice
from common.money import money
from common.reconciling import Page, Recheck, Window, recheck

# Bitrix24 REST docs (outgoing webhooks, "auth" block): the application token, and for an
# application also its OAuth access and refresh tokens.
SECRET_FIELDS = frozenset({"auth[application_token]", "auth[access_token]", "auth[refresh_token]"})
REDACTED = "[redacted]"

# Bitrix24 error codes that mean "later", whatever the HTTP status.
# OPERATION_TIME_LIMIT (HTTP 429): a method that ran over 480 s within 10 minutes is
# blocked for the portal until `time.operating_reset_at` (Bitrix24 REST docs, "Limits" and
# "operating"); every other method still works, and the lead is fine: wait and retry.
TEMPORARY_ERRORS = {
    "QUERY_LIMIT_EXCEEDED",
    "OVERLOAD_LIMIT",
    "INTERNAL_SERVER_ERROR",
    "OPERATION_TIME_LIMIT",
}
DEAL_EVENTS = {"ONCRMDEALUPDATE", "ONCRMDEALADD"}
ORIGINATOR = "leadrelay"
# Bitrix24 REST docs, "Event on deal deletion onCrmDealDelete": data[FIELDS][ID] only; the
# deal is gone, so there is nothing to read: the lead is found by the deal that paid it.
DEAL_DELETED = "ONCRMDEALDELETE"


def lead_fields(lead: Lead) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "TITLE": f"Заявка: {lead.campaign_id}",
        "SOURCE_ID": "WEB",
        # ORIGINATOR_ID/ORIGIN_ID: the external system and its id for this lead (crm.lead
        # fields in the Bitrix24 REST docs), so a manager or a script can find ours.
        "ORIGINATOR_ID": ORIGINATOR,
        "ORIGIN_ID": lead.id,
        "COMMENTS": lead_text(lead),
    }
    if lead.name:
        fields["NAME"] = lead.name
    for key in ("phone", "email"):
        if value := getattr(lead, key):
            fields[key.upper()] = [{"VALUE": value, "VALUE_TYPE": "WORK"}]
    for key in UTM_FIELDS:
        if value := getattr(lead, key):
            fields[key.upper()] = value
    if lead.page_url:
        fields["SOURCE_DESCRIPTION"] = lead.page_url
    return fields


def result_of(reply: Reply, service: str) -> Any:
    """The `result` of a Bitrix24 REST answer, or the failure its error means."""
    body = reply.json()
    error = body.get("error") if isinstance(body, dict) else None
    if error:
        detail = body.get("error_description", "")
        message = f"{service} answered HTTP {reply.status}: {error}: {detail}".strip()
        if error in TEMPORARY_ERRORS:
            raise TemporaryFailure(message, _reset_after(body) or reply.retry_after())
        if reply.status in (401, 403) or reply.status >= 500:
            classify_http(reply, service)
        raise PermanentFailure(message)
    classify_http(reply, service)
    if not isinstance(body, dict) or "result" not in body:
        # A 2xx that is no error: the portal may have done what it was asked (an add whose
        # answer came out wrong), so it is asked again, not given up; a lead's add looks for
        # the lead by ORIGIN_ID first.
        raise TemporaryFailure(f"{service} answered HTTP {reply.status} without a result")
    return body["result"]


class Bitrix24Integration(CrmIntegration):
    kind = "bitrix24"

    def __init__(self, name: str, connection: Bitrix24Connection):
        super().__init__(name, connection.rate_limit)
        self.connection = connection
        self.base = str(connection.base_url).rstrip("/")

    async def method(self, http: aiohttp.ClientSession, name: str, params: dict[str, Any]) -> Any:
        reply = await self.call(http, "POST", f"{self.base}/{name}.json", json=params)
        return result_of(reply, f"Bitrix24 '{self.name}' {name}")

    async def send_lead(
        self, http: aiohttp.ClientSession, lead: Lead, retry: bool = False
    ) -> Delivered:
        if retry and (found := await self.find_lead(http, lead.id)) is not None:
            return Delivered(found)
        params = {"fields": lead_fields(lead), "params": {"REGISTER_SONET_EVENT": "Y"}}
        result = await self.method(http, "crm.lead.add", params)
        # crm.lead.add's result is the new lead's integer ID (b24restdocs, crm-lead-add.md).
        added = None if isinstance(result, bool) else str(result)
        if not isinstance(result, int | str) or added is None or not is_crm_id(added):
            # Perhaps added all the same: the retry looks for it by ORIGIN_ID first.
            raise TemporaryFailure(
                f"Bitrix24 '{self.name}' crm.lead.add answered without a lead id: {result!r:.100}"
            )
        return Delivered(added)

    async def find_lead(self, http: aiohttp.ClientSession, lead_id: str) -> str | None:
        """The portal's id of our lead, if an earlier crm.lead.add took it but its answer
        was lost (a timeout): crm.lead.list filtered by ORIGINATOR_ID and ORIGIN_ID, the
        fields crm.lead.add was given (b24restdocs, api-reference/crm/leads/crm-lead-add.md
        and crm-lead-list.md: `filter`, `select`)."""
        wanted = {"filter": {"ORIGINATOR_ID": ORIGINATOR, "ORIGIN_ID": lead_id}, "select": ["ID"]}
        found = await self.method(http, "crm.lead.list", wanted)
        rows = found if isinstance(found, list) else None
        ids = [str(row.get("ID")) for row in rows or [] if isinstance(row, dict)]
        if rows is None or len(ids) < len(rows) or not all(is_crm_id(i) for i in ids):
            # Not "no such lead": added again, it would be in the portal twice.
            raise TemporaryFailure(
                f"Bitrix24 '{self.name}' crm.lead.list gave no list of leads: {found!r:.100}"
            )
        return min(ids, key=int) if ids else None

    async def get_deal(self, http: aiohttp.ClientSession, deal_id: str) -> dict[str, Any]:
        deal = await self.method(http, "crm.deal.get", {"id": deal_id})
        if not isinstance(deal, dict):
            raise PermanentFailure(f"Bitrix24 '{self.name}' crm.deal.get gave no deal")
        return deal

    def authenticate(self, request: WebhookRequest) -> str | None:
        given = request.form().get("auth[application_token]")
        if not same_secret(given, self.connection.application_token.get_secret_value()):
            raise Unauthorized("auth[application_token] is missing or wrong")
        return None

    def storable(self, request: WebhookRequest) -> bytes:
        """Bitrix24 signs nothing: its outgoing webhook carries the application token (and,
        from an application, OAuth tokens) in the body's auth[…] fields. Keep them out of
        webhook_receipts; whoever reads the database must not be able to forge a payment."""
        try:
            fields = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return b"(not UTF-8: not kept)"
        kept = [(k, REDACTED if k in SECRET_FIELDS else v) for k, v in fields]
        return urlencode(kept).encode()

    def parse_webhook(self, request: WebhookRequest) -> list[Notice]:
        """A deal event names only the deal: the caller resolves it with `resolve_deal`."""
        form = request.form()
        event = form.get("event", "").upper()
        if event not in DEAL_EVENTS and event != DEAL_DELETED:
            return [Notice("other", note=f"event {event or '(none)'} is not about a deal")]
        deal_id = form.get("data[FIELDS][ID]", "")
        if not is_crm_id(deal_id):
            problem = [{"field": "data[FIELDS][ID]", "message": "must be a deal id"}]
            raise InvalidField("data[FIELDS][ID]: must be a deal id", problem)
        return [Notice("deleted" if event == DEAL_DELETED else "deal", deal_id=deal_id)]

    async def resolve_deal(self, http: aiohttp.ClientSession, deal_id: str) -> Notice:
        """Read the deal: won (semantic S) is paid, failed (F) is lost, the rest is news.

        The deal is the one asked for: an answer without its ID would make every such deal
        one payment ("deal ''"), the second one's money taken for a repeat of the first."""
        deal = await self.get_deal(http, deal_id)
        said = deal.get("ID", deal_id)
        if str(said) != deal_id:
            raise TemporaryFailure(
                f"Bitrix24 '{self.name}' crm.deal.get answered deal {said!r:.40} for deal {deal_id}"
            )
        return deal_notice(deal | {"ID": deal_id})

    def notice_of(self, item: dict[str, Any]) -> Notice:
        return deal_notice(item)

    @property
    def reconcile_every(self) -> float | None:
        return self.connection.reconcile_every or None  # 0 turns it off

    def deal_link(self, crm_ref: str) -> str | None:
        parts = urlsplit(self.base)  # the inbound webhook URL on the portal
        root = f"{parts.scheme}://{parts.netloc}"
        if crm_ref.startswith("deal:"):
            return f"{root}/crm/deal/details/{crm_ref.removeprefix('deal:')}/"
        return f"{root}/crm/lead/details/{crm_ref}/"

    async def closed_page(self, http: aiohttp.ClientSession, window: Window) -> Page:
        """Won and lost deals modified within the window, by ID from the last one read on.

        b24restdocs, "Retrieve Large Volumes of Data": order by ID, filter `>ID` the last one
        read, `start = -1` (no count); the end is a page of fewer than 50. A deal edited
        meanwhile leaves the window for a later one: it cannot shift the deals still to be
        read, as paging by `start` over a list ordered by DATE_MODIFY did. crm.deal.list:
        `@` is IN (an array); datetimes are `YYYY-MM-DDThh:mm:ss±hh:mm` ("Data Types")."""
        after = _last_id(window.place)
        params: dict[str, Any] = {
            "filter": {
                "@STAGE_SEMANTIC_ID": ["S", "F"],
                ">=DATE_MODIFY": portal_time(window.since),
                "<DATE_MODIFY": portal_time(window.until),
                ">ID": after,
            },
            "order": {"ID": "ASC"},
            "select": [*DEAL_FIELDS],
            "start": -1,
        }
        service = f"Bitrix24 '{self.name}' crm.deal.list"
        reply = await self.call(http, "POST", f"{self.base}/crm.deal.list.json", json=params)
        rows = result_of(reply, service)
        if not isinstance(rows, list):
            raise PermanentFailure(f"{service} gave no list")
        if len(rows) > LIST_PAGE:
            raise PermanentFailure(f"{service} gave {len(rows)} deals for a page of {LIST_PAGE}")
        # A deal without a readable ID is skipped and counted: it cannot be told from another.
        deals = [row for row in rows if isinstance(row, dict) and _id(row) > 0]
        last = max((_id(deal) for deal in deals), default=after)
        if len(rows) < LIST_PAGE:
            return Page(deals, None, len(rows) - len(deals))  # the window is read
        if last <= after:
            raise PermanentFailure(f"{service} gave a full page with no deal after ID {after}")
        return Page(deals, {"after": last}, len(rows) - len(deals))

    rechecks_payments = True

    def payment_ref(self, lead: Lead) -> str | None:
        return lead.payment_deal_id  # a lead is paid by one deal; that one is asked about

    async def payments_now(self, http: aiohttp.ClientSession, refs: list[str]) -> Recheck:
        """The deals that paid our leads, read again by ID in one call.

        b24restdocs, crm.deal.list: `@` is IN and takes an array (`"@ID": [...]`), `select`
        names the fields; `start = -1` gives no count ("Retrieve Large Volumes of Data").
        The list holds only deals that exist: a deal missing from the answer was deleted."""
        asked = [ref for ref in refs if ref.isascii() and ref.isdigit()][:LIST_PAGE]
        params = {"filter": {"@ID": asked}, "select": [*DEAL_FIELDS], "start": -1}
        service = f"Bitrix24 '{self.name}' crm.deal.list"
        reply = await self.call(http, "POST", f"{self.base}/crm.deal.list.json", json=params)
        rows = result_of(reply, service)
        if not isinstance(rows, list):
            raise PermanentFailure(f"{service} gave no list")
        return recheck(asked, rows, lambda deal: str(deal.get("ID", "")), deal_notice, _deleted)


def _deleted(deal_id: str) -> Notice:
    return Notice("deleted", deal_id=deal_id, note=f"deal {deal_id} is gone from the portal")


LIST_PAGE = 50  # b24restdocs, "Features of List Methods": a list method gives 50 a page


def portal_time(moment: datetime) -> str:
    """A time as the REST API takes it: whole seconds with an offset, no `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _id(deal: dict[str, Any]) -> int:
    """A deal's ID as a number; 0 (never past the place) when it is not one."""
    value = str(deal.get("ID", ""))
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else 0


def _last_id(place: dict[str, Any] | None) -> int:
    value = (place or {}).get("after")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


DEAL_FIELDS = (
    "ID",
    "LEAD_ID",
    "STAGE_SEMANTIC_ID",
    "OPPORTUNITY",
    "CURRENCY_ID",
    "MOVED_TIME",
    "CLOSEDATE",
    "DATE_MODIFY",
)


def deal_notice(deal: dict[str, Any]) -> Notice:
    """What a deal says: won (semantic S) is paid, failed (F) is lost, the rest is news."""
    deal_id = str(deal.get("ID", ""))
    semantic = str(deal.get("STAGE_SEMANTIC_ID", ""))
    lead_id = str(deal.get("LEAD_ID") or "")
    # Its lead and deal go with every outcome: a deal back in progress, or lost, after it
    # was won undoes the payment it made.
    if semantic not in ("S", "F"):
        note = f"deal {deal_id} is still in progress"
        return Notice("other", lead_id or None, note=note, deal_id=deal_id)
    if semantic == "F":
        if not lead_id:
            return Notice("lost", note=f"deal {deal_id} has no LEAD_ID", deal_id=deal_id)
        return Notice("lost", lead_id, deal_id=deal_id)
    amount, code = money("OPPORTUNITY", deal.get("OPPORTUNITY") or "0", deal.get("CURRENCY_ID"))
    # MOVED_TIME is when the deal entered its (won) stage; CLOSEDATE is a date a manager
    # types, often the planned one; DATE_MODIFY moves with any later edit.
    paid_at = (
        _moment(deal.get("MOVED_TIME"))
        or _moment(deal.get("CLOSEDATE"))
        or _moment(deal.get("DATE_MODIFY"))
    )
    # A won deal without LEAD_ID (made by hand, or from another channel) is still
    # money: it is kept as an unmatched payment for a person to attach.
    return Notice(
        "paid", lead_id or None, amount=amount, currency=code, paid_at=paid_at, deal_id=deal_id
    )


def _reset_after(body: dict[str, Any]) -> float | None:
    """Seconds until `time.operating_reset_at` (a Unix timestamp), if the answer has it."""
    timing = body.get("time")
    reset_at = timing.get("operating_reset_at") if isinstance(timing, dict) else None
    if not isinstance(reset_at, int | float) or isinstance(reset_at, bool):
        return None
    return max(0.0, float(reset_at) - clock.now().timestamp())


def _moment(value: object) -> str | None:
    """A deal's time, clamped to now (a planned CLOSEDATE); None if it is not a time or
    before 2000 (a typo such as 0024-05-01)."""
    try:
        moment = clock.parse(str(value))
    except ValueError:
        return None
    if moment < clock.EARLIEST:
        return None
    return clock.iso(min(moment, clock.now()))
