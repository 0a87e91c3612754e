"""Yandex Direct API v5 Reports service on the wire: token, headers, body, queue, TSV report.

What each behaviour follows (the client, common/integrations/direct.py, cites the same):

- "Reports service" (yandex.com/dev/direct/doc/en/reports): POST /json/v5/reports with a
  JSON report definition; the report is TSV in UTF-8.
- "HTTP headers" (yandex.com/dev/direct/doc/en/concepts/headers): Authorization: Bearer
  <token>; Client-Login "is required if the request is made on behalf of an agency";
  Accept-Language en/ru/tr, anything else answered in English.
- Reports "HTTP headers" (yandex.ru/dev/direct/doc/ru/headers): processingMode online /
  offline / auto (absent = auto); returnMoneyInMicros: false for amounts, else integers x
  1,000,000; skipReportHeader / skipColumnHeader / skipReportSummary: true; an offline
  answer carries retryIn and reportsInQueue.
- "Online and offline reports" (yandex.com/dev/direct/doc/en/mode): auto builds online
  when it can, else queues; an offline report is asked for again "with the same
  parameters" until it is ready; online mode answers an error when it cannot build online.
- "Response codes and error codes" (yandex.com/dev/direct/doc/en/codes): 200, 201 (queued),
  202 (being built), 400 (an error in the request or the queue limit), 500 (a server error),
  502 (timed out on the server); errors as {"error": {request_id, error_code,
  error_string, error_detail}}, the request id also in the RequestId header.
- "Restrictions" (yandex.com/dev/direct/doc/en/restrictions): 20 requests per 10 seconds
  per user; 5 offline reports queued per user; offline reports kept 5 hours.
- "Request: report specification" (yandex.com/dev/direct/doc/en/spec): SelectionCriteria,
  FieldNames, ReportName, ReportType, DateRangeType, Format (TSV) and IncludeVAT (YES/NO)
  are required; CUSTOM_DATE takes DateFrom and DateTo.
- "Output for monetary values" (yandex.com/dev/direct/doc/en/money): micros rounded to
  10,000, amounts to two places, with or without VAT by IncludeVAT.
- "Report content" (yandex.com/dev/direct/doc/en/report-format): a title line (the name and
  the dates), the field names, the rows, a line with the number of rows.
- "Errors and warnings" (yandex.com/dev/direct/doc/en/concepts/errors-list): 53 invalid
  token, 54 no rights (a login that is not the agency's client), 1000 server temporarily
  unavailable.

Not established from Yandex's text (the stored copies stop short of it), so chosen here and
named as such: the error codes of the queue limit (9000) and of the 10-second limit (56) are
those the tapi-yandex-direct client retries; 8000 for a malformed request and 4000 for a
wrong parameter value are the names of the general errors list as remembered, not read; the
exact wording of the title and count lines (`"name (from - to)"`, `Total rows: N`); a
different body under a name already used is refused (4000) rather than answered with the
old report, the safer assumption for a client (leadrelay names reports by their content, so
it never meets either); a missing Client-Login on an agency token is 8000.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from aiohttp import web

from common import clock
from tests.emulators.faults import Emulator, control_routes

REQUIRED = (
    *("SelectionCriteria", "FieldNames", "ReportName", "ReportType", "DateRangeType"),
    *("Format", "IncludeVAT"),
)
KNOWN_FIELDS = {"Date", "CampaignId", "CampaignName", "Impressions", "Clicks", "Cost"}
KEPT = timedelta(hours=5)  # "Restrictions": generated offline reports are stored 5 hours
QUEUE_LIMIT = 5  # "Restrictions": at most 5 offline reports queued per user
# Headers that change the report's text: a repeated request is "the same" with them too.
SHAPING = ("returnMoneyInMicros", "skipReportHeader", "skipColumnHeader", "skipReportSummary")


@dataclass
class Figures:
    """One Direct campaign's day, as the account holds it (cost with VAT)."""

    name: str
    impressions: int
    clicks: int
    cost: Decimal


@dataclass
class Offline:
    """A report asked for offline: its body, how far it has got, and once built its text."""

    key: str  # the body and the headers that shape the text: the same request, or not
    login: str
    looks: int = 0
    text: str | None = None
    ready_at: datetime | None = None


class ApiError(Exception):
    def __init__(self, code: int, text: str, detail: str):
        super().__init__(text)
        self.code, self.text, self.detail = code, text, detail


class Direct(Emulator):
    def __init__(self, token: str, agency_clients: set[str] | None = None):
        super().__init__()
        self.token = token
        # An agency's token serves these clients' logins and needs Client-Login; None: the
        # token is an advertiser's own (its login is `login`).
        self.agency_clients = agency_clients
        self.login = "advertiser"
        self.figures: dict[tuple[date, str], Figures] = {}
        self.online = True  # auto mode builds online; False: everything goes to the queue
        self.building_looks = 1  # 202 answers after the 201, before the report is ready
        self.retry_in = 1  # the retryIn header, seconds
        self.vat_rate = Decimal("0.20")  # IncludeVAT NO: cost / (1 + rate); a test setting
        self.requests_per_10s = 20  # "Restrictions": per user
        self.split_above_days: int | None = None  # a longer range times out (502)
        self.answers: list[int] = []  # the next requests get these statuses (500, 502)
        # The next requests get a 200 with this text instead of the report: what a proxy in
        # between may answer (an empty body), or the column line alone. "Report content"
        # (yandex.com/dev/direct/doc/en/report-format, above): a report always ends with its
        # count line unless skipReportSummary is asked for.
        self.hollow: list[str] = []
        self.reports: dict[str, Offline] = {}  # offline reports by ReportName
        self.ids = itertools.count(1)
        self._recent: list[float] = []  # when this user's recent requests came

    def set_cost(
        self, day: date, campaign_id: str, name: str, impressions: int, clicks: int, cost: str
    ) -> None:
        self.figures[(day, campaign_id)] = Figures(name, impressions, clicks, Decimal(cost))

    def queued(self, login: str) -> int:
        return sum(1 for r in self.reports.values() if r.login == login and r.text is None)

    def over_limit(self) -> bool:
        """One more request of this user's: is it over the limit of the last 10 seconds?"""
        now = time.monotonic()
        self._recent = [t for t in self._recent if now - t <= 10.0] + [now]
        return len(self._recent) > self.requests_per_10s


def error_response(request_id: str, status: int, code: int, text: str, detail: str) -> web.Response:
    body = {
        "error": {
            "request_id": request_id,
            "error_code": code,
            "error_string": text,
            "error_detail": detail,
        }
    }
    return web.json_response(body, status=status, headers={"RequestId": request_id})


def flag(request: web.Request, name: str) -> bool:
    return request.headers.get(name, "").strip().lower() == "true"


def login_of(direct: Direct, request: web.Request) -> str:
    """Whose account the request reads; ApiError as Direct refuses it."""
    if request.headers.get("Authorization") != f"Bearer {direct.token}":
        raise ApiError(53, "Authorization error", "Invalid OAuth token")
    client = request.headers.get("Client-Login", "").strip()
    if direct.agency_clients is None:
        if client and client != direct.login:
            raise ApiError(54, "No rights", f"No rights to the account of {client}")
        return direct.login
    if not client:  # not established: the code an agency gets without Client-Login
        raise ApiError(8000, "Invalid request", "Client-Login is required for an agency")
    if client not in direct.agency_clients:
        raise ApiError(54, "No rights", f"{client} is not a client of the agency")
    return client


def definition(body: object) -> tuple[dict[str, object], date, date]:
    """The report definition and its range; ApiError naming what is wrong."""
    params = body.get("params") if isinstance(body, dict) else None
    if not isinstance(params, dict):
        raise ApiError(8000, "Invalid request", "params is required")
    for name in REQUIRED:
        if name not in params:
            raise ApiError(8000, "Invalid request", f"{name} is required")
    fields = params["FieldNames"]
    if not isinstance(fields, list) or not fields or not set(fields) <= KNOWN_FIELDS:
        raise ApiError(4000, "Invalid request parameters", f"FieldNames: {fields!r:.100}")
    wrong = {
        "Format": params["Format"] != "TSV",
        "IncludeVAT": params["IncludeVAT"] not in ("YES", "NO"),
        "ReportType": params["ReportType"] != "CAMPAIGN_PERFORMANCE_REPORT",
        "DateRangeType": params["DateRangeType"] != "CUSTOM_DATE",
        "ReportName": not isinstance(params["ReportName"], str) or not params["ReportName"],
    }
    for name, bad in wrong.items():
        if bad:
            raise ApiError(4000, "Invalid request parameters", f"{name}: {params[name]!r:.60}")
    criteria = params["SelectionCriteria"]
    try:
        assert isinstance(criteria, dict)
        first, last = (
            date.fromisoformat(criteria["DateFrom"]),
            date.fromisoformat(criteria["DateTo"]),
        )
    except (AssertionError, KeyError, TypeError, ValueError):
        raise ApiError(
            4000, "Invalid request parameters", "DateFrom and DateTo: YYYY-MM-DD"
        ) from None
    if first > last:
        raise ApiError(4000, "Invalid request parameters", "DateFrom is after DateTo")
    return params, first, last


def money(cost: Decimal, micros: bool) -> str:
    """ "Output for monetary values": micros rounded to 10,000, or an amount to two places."""
    amount = cost.quantize(Decimal("0.01"), ROUND_HALF_UP)
    return str(int(amount * 1_000_000)) if micros else f"{amount:.2f}"


def build(
    direct: Direct, request: web.Request, params: dict[str, object], span: tuple[date, date]
) -> str:
    """The TSV report of the account's figures in the range, as the headers ask."""
    first, last = span
    fields = (
        [str(f) for f in params["FieldNames"]] if isinstance(params["FieldNames"], list) else []
    )
    with_vat = params["IncludeVAT"] == "YES"
    micros = request.headers.get("returnMoneyInMicros", "").strip().lower() != "false"
    lines = []
    if not flag(request, "skipReportHeader"):
        lines.append(f'"{params["ReportName"]} ({first} - {last})"')
    if not flag(request, "skipColumnHeader"):
        lines.append("\t".join(fields))
    rows = sorted((k, v) for k, v in direct.figures.items() if first <= k[0] <= last)
    for (day, campaign_id), figures in rows:
        cost = figures.cost if with_vat else figures.cost / (1 + direct.vat_rate)
        values = {
            "Date": day.isoformat(),
            "CampaignId": campaign_id,
            "CampaignName": figures.name,
            "Impressions": str(figures.impressions),
            "Clicks": str(figures.clicks),
            "Cost": money(cost, micros),
        }
        lines.append("\t".join(values[f] for f in fields))
    if not flag(request, "skipReportSummary"):
        lines.append(f"Total rows: {len(rows)}")
    return "\n".join(lines) + "\n"


def tsv(text: str, request_id: str) -> web.Response:
    return web.Response(
        text=text,
        content_type="text/tab-separated-values",
        charset="utf-8",
        headers={"RequestId": request_id},
    )


def waiting(direct: Direct, status: int, login: str, request_id: str) -> web.Response:
    headers = {
        "RequestId": request_id,
        "retryIn": str(direct.retry_in),
        "reportsInQueue": str(direct.queued(login)),
    }
    return web.Response(status=status, headers=headers)


def offline(
    direct: Direct,
    request: web.Request,
    params: dict[str, object],
    span: tuple[date, date],
    login: str,
    request_id: str,
) -> web.Response:
    """The offline queue: 201 when queued, 202 while built, 200 with the report once ready;
    the same name and body keep answering the report built then, for 5 hours."""
    name = str(params["ReportName"])
    shaping = {k: request.headers.get(k, "") for k in SHAPING}
    key = json.dumps([params, shaping, login], sort_keys=True)
    found = direct.reports.get(name)
    if found is not None and found.ready_at is not None and clock.now() - found.ready_at > KEPT:
        del direct.reports[name]
        found = None
    if found is None:
        if direct.queued(login) >= QUEUE_LIMIT:  # code: see the module docstring
            raise ApiError(
                9000, "Limit exceeded", f"at most {QUEUE_LIMIT} offline reports may wait"
            )
        direct.reports[name] = Offline(key, login)
        return waiting(direct, 201, login, request_id)
    if found.key != key:  # see the module docstring: assumed, not read
        raise ApiError(
            4000, "Invalid request parameters", f"a report named {name} has other parameters"
        )
    found.looks += 1
    if found.text is None and found.looks <= direct.building_looks:
        return waiting(direct, 202, login, request_id)
    if found.text is None:
        found.text, found.ready_at = build(direct, request, params, span), clock.now()
    return tsv(found.text, request_id)


def create_app(direct: Direct) -> web.Application:
    async def reports(request: web.Request) -> web.StreamResponse:
        request_id = f"{next(direct.ids):016d}"
        refusal = await direct.gate(
            lambda: error_response(request_id, 400, 56, "Limit exceeded", "too many requests"),
            lambda: error_response(request_id, 500, 1000, "Server temporarily unavailable", ""),
        )
        if refusal is not None:
            return refusal
        try:
            return await answer(request, request_id)
        except ApiError as error:
            return error_response(request_id, 400, error.code, error.text, error.detail)

    async def answer(request: web.Request, request_id: str) -> web.StreamResponse:
        if direct.hollow:
            text = direct.hollow.pop(0)
            return web.Response(text=text, content_type="text/tab-separated-values")
        if direct.answers:
            status = direct.answers.pop(0)
            text = "Server temporarily unavailable" if status == 500 else "Request timed out"
            return error_response(request_id, status, 1000 if status == 500 else 0, text, "")
        login = login_of(direct, request)
        if direct.over_limit():  # "Restrictions": 20 requests in 10 seconds; code: docstring
            raise ApiError(
                56, "Limit exceeded", f"at most {direct.requests_per_10s} requests in 10 seconds"
            )
        try:
            body = json.loads(await request.read())
        except ValueError:
            raise ApiError(8000, "Invalid request", "the body is not JSON") from None
        params, first, last = definition(body)
        direct.received.append(
            {
                "params": params,
                "headers": {k: v for k, v in request.headers.items() if k != "Authorization"},
            }
        )
        if (
            direct.split_above_days is not None
            and (last - first).days + 1 > direct.split_above_days
        ):
            return error_response(request_id, 502, 0, "Request timed out", "reduce the period")
        mode = request.headers.get("processingMode", "auto").strip().lower()
        if mode not in ("online", "offline", "auto"):
            raise ApiError(4000, "Invalid request parameters", f"processingMode: {mode!r:.30}")
        if mode == "offline" or (mode == "auto" and not direct.online):
            return offline(direct, request, params, (first, last), login, request_id)
        if not direct.online:
            raise ApiError(8000, "Invalid request", "the report cannot be built online")
        return tsv(build(direct, request, params, (first, last)), request_id)

    async def costs(request: web.Request) -> web.Response:
        """POST /_costs [{day, campaign_id, name, impressions, clicks, cost}]: set figures."""
        for row in await request.json():
            day = date.fromisoformat(row["day"])
            direct.set_cost(
                day, row["campaign_id"], row["name"], row["impressions"], row["clicks"], row["cost"]
            )
        return web.json_response({"ok": True})

    app = web.Application()
    app.add_routes(
        [
            web.post("/json/v5/reports", reports),
            web.post("/_costs", costs),
            *control_routes(direct),
        ]
    )
    return app


def seed_demo(direct: Direct, campaigns: dict[str, str], days: int, zone: str) -> None:
    """Figures for the last `days` days (the business's days) of each campaign (id -> name):
    a few hundred to a few thousand roubles a day, the same on every run."""
    rng = random.Random(17)
    today = clock.now().astimezone(ZoneInfo(zone)).date()
    for back in range(days):
        for campaign_id, name in campaigns.items():
            clicks = rng.randrange(5, 80)
            cost = Decimal(clicks * rng.randrange(2000, 6000)).scaleb(-2)
            direct.set_cost(
                today - timedelta(days=back), campaign_id, name, clicks * 30, clicks, str(cost)
            )
