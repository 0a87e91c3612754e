"""Bitrix24 on the wire: an inbound webhook URL with crm.lead.add, crm.deal.get and
crm.deal.list.

From Bitrix24's REST documentation (apidocs.bitrix24.ru, the method pages and "Limits"):
an answer is {"result", "time"} or {"error", "error_description"}; too many requests
get 503 QUERY_LIMIT_EXCEEDED (a leaky bucket, 2 a second); a method that ran too long is
blocked with 429 OPERATION_TIME_LIMIT until time.operating_reset_at; list methods give
50 records a page with `total` and `next`.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from common import clock
from tests.emulators.faults import Emulator, control_routes

LIMIT = {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
# Bitrix24 REST docs, "Limits" (apidocs.bitrix24.ru/limits.html) and "operating"
# (dev.1c-bitrix.ru/rest_help/rest_sum/operating.php): a method whose summed run time
# passes 480 s within 10 minutes is blocked for the whole portal with HTTP 429
# OPERATION_TIME_LIMIT; `time.operating_reset_at` is when part of the limit comes back.
OPERATING = "OPERATION_TIME_LIMIT"


class Bitrix24(Emulator):
    def __init__(self, webhook_path: str = "/rest/1/abcdef123"):
        super().__init__()
        self.path = webhook_path
        self.ids = itertools.count(501)
        self.deals: dict[str, dict[str, Any]] = {}
        self.blocked: dict[str, float] = {}  # method -> Unix time its operating block ends
        self.leads: dict[str, dict[str, Any]] = {}  # crm.lead.add's leads by their ID
        self.lose_add_answers = 0  # crm.lead.add calls that add, then never answer
        # Run one per list page answered, after it: a deal edited between two page requests.
        self.on_page: list[Callable[[], None]] = []
        # Fields answered in place of the stored ones (a DATE_MODIFY that does not parse).
        self.shown: dict[str, dict[str, Any]] = {}

    def add_deal(self, deal_id: str, **fields: Any) -> None:
        self.deals[deal_id] = {"ID": deal_id, **fields}


PAGE = 50  # Bitrix24 REST docs: a list method gives 50 records a page, `next` and `total`
# b24restdocs, "Data Types": a datetime is `YYYY-MM-DDThh:mm:ss±hh:mm` (no fraction, no Z).
DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
# b24restdocs, crm.deal.list: a filter key may carry one prefix; `@`/`!@` (IN / NOT IN) take
# an array, the others one value (`"@ID": [...]` lists deals by id; a deleted one is absent).
PREFIX = re.compile(r"^(>=|<=|!@|>|<|@|!=|!|=)?(\w+)$")


class Refused(Exception):
    """crm.deal.list's answer to a filter the REST docs do not describe."""


def list_deals(b24: Bitrix24, params: dict[str, Any]) -> dict[str, Any]:
    """crm.deal.list as b24restdocs describes it: `filter` with prefixed keys, `order`,
    `select`, `start` (>= 0: pages of 50 with `total` and `next`; -1: no count, no `next`,
    "Retrieve Large Volumes of Data"); the answer has `result` and `total`."""
    checks = [_condition(key, value) for key, value in (params.get("filter") or {}).items()]
    deals = [d for d in b24.deals.values() if all(check(d) for check in checks)]
    for field, direction in reversed(list((params.get("order") or {}).items())):
        deals.sort(key=lambda d, f=field: _sort_key(f, d.get(f)), reverse=direction == "DESC")
    start = int(params.get("start") or 0)
    fields = params.get("select") or []
    first = max(start, 0)
    page = [
        {k: v for k, v in (d | b24.shown.get(d["ID"], {})).items() if not fields or k in fields}
        for d in deals[first : first + PAGE]
    ]
    if b24.on_page:  # a manager's edit between this page and the next
        b24.on_page.pop(0)()
    if start < 0:
        return {"result": page, "total": 0, "time": {}}
    answer: dict[str, Any] = {"result": page, "total": len(deals), "time": {}}
    if start + PAGE < len(deals):
        answer["next"] = start + PAGE
    return answer


async def add_lead(b24: Bitrix24, fields: dict[str, Any]) -> web.Response:
    """crm.lead.add: the new lead's ID as `result`. With `lose_add_answers` the lead is
    added and the answer never comes, as when a timeout cuts the call after the portal
    took it (b24restdocs, crm-lead-add.md: nothing makes a second add of the same lead
    fail, so the caller must look before adding again)."""
    lead_id = next(b24.ids)
    b24.received.append(fields)
    b24.leads[str(lead_id)] = {"ID": str(lead_id), **fields}
    if b24.lose_add_answers:
        b24.lose_add_answers -= 1
        await asyncio.Event().wait()
    return web.json_response({"result": lead_id, "time": {}})


def list_leads(b24: Bitrix24, params: dict[str, Any]) -> dict[str, Any]:
    """crm.lead.list (b24restdocs, crm-lead-list.md): `filter` by field equality (here
    ORIGINATOR_ID and ORIGIN_ID, the fields crm.lead.add stored), `select`; one page."""
    wanted = params.get("filter") or {}
    fields = params.get("select") or []
    found = [
        {k: v for k, v in lead.items() if not fields or k in fields}
        for lead in b24.leads.values()
        if all(str(lead.get(key)) == str(value) for key, value in wanted.items())
    ]
    return {"result": found[:PAGE], "total": len(found), "time": {}}


def _condition(key: str, value: Any) -> Callable[[dict[str, Any]], bool]:
    match = PREFIX.match(key)
    if match is None:
        raise Refused(f"unknown filter key {key}")
    prefix, field = match[1] or "", match[2]
    if isinstance(value, list) != (prefix in ("@", "!@")):
        raise Refused(f"{key}: an array goes with @ or !@ alone")
    if field in DATE_FIELDS and not DATETIME.fullmatch(str(value)):
        raise Refused(f"{key}: {value} is not YYYY-MM-DDThh:mm:ss±hh:mm")
    wanted = [_sort_key(field, v) for v in value] if isinstance(value, list) else None
    one = None if isinstance(value, list) else _sort_key(field, value)
    tests: dict[str, Callable[[Any], bool]] = {
        "@": lambda have: have in wanted,
        "!@": lambda have: have not in wanted,
        ">=": lambda have: have >= one,
        ">": lambda have: have > one,
        "<=": lambda have: have <= one,
        "<": lambda have: have < one,
        "!": lambda have: have != one,
        "!=": lambda have: have != one,
        "=": lambda have: have == one,
        "": lambda have: have == one,
    }
    test = tests[prefix]
    return lambda deal: test(_sort_key(field, deal.get(field)))


DATE_FIELDS = {"DATE_MODIFY", "DATE_CREATE", "MOVED_TIME", "CLOSEDATE"}


def _when(value: object) -> datetime:
    return datetime.fromisoformat(str(value or "1970-01-01T00:00:00+00:00"))


def _sort_key(field: str, value: object) -> Any:
    if field in DATE_FIELDS:
        return _when(value)
    if field == "ID":
        return int(str(value or 0))
    return str(value or "")


def create_app(b24: Bitrix24) -> web.Application:
    async def call(request: web.Request) -> web.Response:
        refusal = await b24.gate(
            lambda: web.json_response(LIMIT, status=503),
            lambda: web.json_response(
                {"error": "INTERNAL_SERVER_ERROR", "error_description": "try later"}, status=500
            ),
        )
        if refusal is not None:
            return refusal
        method = request.match_info["method"]
        reset_at = b24.blocked.get(method)
        if reset_at is not None and time.time() < reset_at:
            body = {
                "error": OPERATING,
                "error_description": "Method is blocked due to operation time limit.",
                "time": {"operating_reset_at": reset_at},
            }
            return web.json_response(body, status=429)
        params = await request.json()
        if method == "crm.lead.add":
            fields = params.get("fields") or {}
            if not fields.get("TITLE"):
                return web.json_response(
                    {"error": "ERROR_CORE", "error_description": "TITLE is required"}, status=400
                )
            return await add_lead(b24, fields)
        if method == "crm.lead.list":
            return web.json_response(list_leads(b24, params))
        if method == "crm.deal.list":
            try:
                return web.json_response(list_deals(b24, params))
            except Refused as refused:
                body = {"error": "INVALID_ARG_VALUE", "error_description": str(refused)}
                return web.json_response(body, status=400)
        if method == "crm.deal.get":
            deal = b24.deals.get(str(params.get("id") or params.get("ID")))
            if deal is None:
                return web.json_response(
                    {"error": "", "error_description": "Not found"}, status=400
                )
            return web.json_response({"result": deal, "time": {}})
        return web.json_response(
            {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"},
            status=404,
        )

    async def add_deal(request: web.Request) -> web.Response:
        """POST /_deals {"ID": …, "STAGE_SEMANTIC_ID": …}: a deal crm.deal.get will return."""
        deal = await request.json()
        b24.add_deal(str(deal.pop("ID")), **deal)
        return web.json_response({"ok": True})

    app = web.Application()
    app.add_routes(
        [
            web.post(b24.path + "/{method}.json", call),
            web.post("/_deals", add_deal),
            *control_routes(b24),
        ]
    )
    return app


# What a manager does to a deal after it was won, and the outgoing webhook Bitrix24 sends.
# Bitrix24 REST docs (bitrix24/b24restdocs): crm.deal.update changes OPPORTUNITY or the
# stage; "Event on deal update onCrmDealUpdate" and "Event on deal deletion onCrmDealDelete"
# post `event`, `data[FIELDS][ID]` (the deal id only), `ts` and `auth[…]` with the
# application token, form-encoded. A deleted deal is gone: crm.deal.get answers "Not found".
def change_deal(b24: Bitrix24, deal_id: str, **fields: Any) -> None:
    """crm.deal.update: new fields, DATE_MODIFY now; a new stage sets MOVED_TIME too."""
    deal = b24.deals[deal_id]
    now = clock.now().replace(microsecond=0).isoformat()  # the world's clock, a test's to move
    if "STAGE_SEMANTIC_ID" in fields and fields["STAGE_SEMANTIC_ID"] != deal.get(
        "STAGE_SEMANTIC_ID"
    ):
        fields.setdefault("MOVED_TIME", now)
    deal |= fields | {"DATE_MODIFY": now}


def delete_deal(b24: Bitrix24, deal_id: str) -> None:
    """crm.deal.delete: the deal is gone from get and list."""
    del b24.deals[deal_id]


def deal_event(event: str, deal_id: str, application_token: str) -> dict[str, str]:
    """The outgoing webhook's form for a deal event (ONCRMDEALUPDATE, ONCRMDEALDELETE, …)."""
    return {
        "event": event,
        "data[FIELDS][ID]": deal_id,
        "ts": str(int(time.time())),
        "auth[application_token]": application_token,
    }


def won_total(b24: Bitrix24) -> Decimal:
    """What Bitrix24's own report would say was won: OPPORTUNITY of deals in a won stage."""
    return sum(
        (
            Decimal(str(deal.get("OPPORTUNITY") or 0))
            for deal in b24.deals.values()
            if deal.get("STAGE_SEMANTIC_ID") == "S"
        ),
        Decimal(0),
    )
