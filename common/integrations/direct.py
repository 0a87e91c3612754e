"""DirectReports: one request to the Yandex Direct API v5 Reports service, one typed outcome.

What the Reports service documentation says, and what this client does about it (the
emulator in tests/emulators/direct.py follows the same pages):

- "Reports service" (yandex.com/dev/direct/doc/en/reports): POST over HTTPS to
  {base}/json/v5/reports, the report definition as JSON in the body, the report as TSV in
  UTF-8.
- "HTTP headers" of the API (yandex.com/dev/direct/doc/en/concepts/headers): Authorization:
  Bearer <OAuth token>; Accept-Language (en, ru, tr; the language of error texts);
  Client-Login, the advertiser's login, "required if the request is made on behalf of an
  agency".
- "HTTP headers" of the Reports service (yandex.ru/dev/direct/doc/ru/headers):
  processingMode online/offline/auto (absent = auto); returnMoneyInMicros: false gives money
  as amounts, otherwise integers = amount x 1,000,000; skipReportHeader / skipColumnHeader /
  skipReportSummary: true leave out the title line, the column names and the line counting
  the rows. An offline answer carries retryIn (seconds until asking again) and
  reportsInQueue (offline reports queued, at most 5 per advertiser).
- "Online and offline reports" (yandex.com/dev/direct/doc/en/mode): in auto mode the server
  builds the report online if it can, else queues it; the readiness of an offline report is
  checked "with repeated requests with the same parameters", every retryIn seconds. This
  client sends auto: a small report comes at once, a large one is queued, and the caller
  must handle both anyway ("Your application must support both modes").
- "Response codes and error codes" (yandex.com/dev/direct/doc/en/codes): 200 the report;
  201 queued offline; 202 being built offline; 400 an error in the request or the queue
  limit exceeded; 500 a server error building it; 502 the request timed out on the server.
  An error is {"error": {request_id, error_code, error_string, error_detail}}.
- "Restrictions" (yandex.com/dev/direct/doc/en/restrictions): at most 20 requests in 10
  seconds per user, at most 5 offline reports queued per user, offline reports kept 5 hours.
- "Output for monetary values" (yandex.com/dev/direct/doc/en/money): money is in the
  user's (account's) currency; micros are rounded to 10,000, amounts to two places;
  IncludeVAT chooses with or without VAT.
- "Report content" (yandex.com/dev/direct/doc/en/report-format): line 1 the report name
  and dates, line 2 the field names, then the rows, then a line with the number of rows.
- "Errors and warnings" (yandex.com/dev/direct/doc/en/concepts/errors-list): 52 and 1000-
  1002 are server errors ("try again later"); 53 an invalid OAuth token; 54 no rights (an
  advertiser who is not the agency's client, ...); 58 unfinished API registration; 513 a
  login not enabled in Direct; 3000/3001 no API access; 152 not enough units; 506 too many
  simultaneous connections. The rest of that table could not be read here; codes 56 (a
  method's request limit) and 9000 (the offline queue is full) are those the tapi-yandex-
  direct client (github.com/pavelmaksimov/tapi-yandex-direct) retries, not read in Yandex's
  own list.

Choices: money in micros (exact integers; a decimal answer is parsed exactly too); the
title line skipped, the column line and the row count asked for, so the parser can check
the columns it got and that the answer arrived whole, and it copes when the lines it asked
to skip come anyway. The ReportName names the range and a digest of everything else that
shapes the report (so one name never stands for two contents), and, for a range reaching
into the last two days, the current hour in the business's zone: an offline report is kept
and handed back for hours, and a name without the hour would bring the morning's figures
back in the afternoon.
"""

from __future__ import annotations

import hashlib
import json
import re
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, Inexact, localcontext
from zoneinfo import ZoneInfo

import aiohttp
from aiolimiter import AsyncLimiter

from common import clock
from common.config import DirectSettings
from common.integrations.base import DeliveryFailure, Reply, request
from common.model import CostRow

SERVICE = "Yandex Direct"
FIELDS = ("Date", "CampaignId", "CampaignName", "Impressions", "Clicks", "Cost")
MICROS = Decimal(1_000_000)
EXCERPT = 200  # characters of an unreadable line kept to show a person

# Error codes of "Errors and warnings" a later attempt may get past: server errors (52,
# 1000-1002), units (152: they are awarded through the day), connections (506); and, from
# the tapi-yandex-direct client, 56 (requests limit) and 9000 (offline queue full).
TEMPORARY_CODES = frozenset({52, 56, 152, 506, 1000, 1001, 1002, 9000})
# Seconds to wait: units are awarded through the day, a queue slot frees in a minute or so,
# the rest clear within seconds.
WAITS = {152: 600.0, 9000: 60.0}
DEFAULT_WAIT = 10.0
DEFAULT_RETRY_IN = 10.0  # when a 201/202 carries no readable retryIn
RETRY_IN_BOUNDS = (1.0, 3600.0)


@dataclass(frozen=True)
class ReportRequest:
    """One report to ask for: the range and the name that must not change while its
    offline copy is awaited (a new name would queue a second report)."""

    date_from: date
    date_to: date
    name: str


@dataclass(frozen=True)
class Report:
    """200: the report. `skipped` are lines that could not be read (shown, not counted)."""

    rows: tuple[CostRow, ...]
    skipped: tuple[str, ...]
    request_id: str | None


@dataclass(frozen=True)
class NotReady:
    """201 (queued) or 202 (being built): send the same request again after `retry_in`."""

    status: int
    retry_in: float
    queued: int | None  # reportsInQueue: this advertiser's offline reports waiting


@dataclass(frozen=True)
class SplitRange:
    """502: the server timed out building it; ask for each half of the range instead."""

    message: str
    halves: tuple[tuple[date, date], tuple[date, date]]


@dataclass(frozen=True)
class TryLater:
    """A temporary failure: 500, a network error or time-out, a limit; after `retry_after`
    seconds when known."""

    message: str
    retry_after: float | None


@dataclass(frozen=True)
class Misconfigured:
    """A refusal only a person can fix (the token, the login, the request): the error as
    Direct gave it, in a sentence."""

    message: str
    status: int
    error_code: int | None
    request_id: str | None


ReportOutcome = Report | NotReady | SplitRange | TryLater | Misconfigured


class DirectReports:
    """The Reports service of one Direct account, read for its campaigns' daily costs."""

    def __init__(
        self,
        settings: DirectSettings,
        zone: ZoneInfo,
        timeout: float,
        micros: bool = True,
    ):
        self.settings = settings
        self.zone = zone  # the business's days: which range still changes
        self.timeout = aiohttp.ClientTimeout(total=timeout)  # dispatcher.request_timeout
        self.micros = micros  # ask for money in micros (else as amounts)
        # Per process; on PostgreSQL ratelimit.share_limits can put a shared one here.
        self.limiter: AbstractAsyncContextManager[None] = AsyncLimiter(settings.rate_limit, 1.0)

    @property
    def url(self) -> str:
        return f"{str(self.settings.base_url).rstrip('/')}/json/v5/reports"

    def request(self, date_from: date, date_to: date) -> ReportRequest:
        """The report of these days (both included), named for its content and, while its
        figures still change, for this hour."""
        if date_from > date_to:
            raise ValueError(f"the range starts after it ends: {date_from} > {date_to}")
        digest = hashlib.sha256(
            json.dumps([self._params(date_from, date_to, ""), self._shape()]).encode()
        ).hexdigest()[:10]
        name = f"leadrelay_{date_from}_{date_to}_{digest}"
        now = clock.now().astimezone(self.zone)
        if date_to >= now.date() - timedelta(days=1):
            name += f"_at_{now:%Y%m%d%H}"
        return ReportRequest(date_from, date_to, name)

    async def fetch(self, http: aiohttp.ClientSession, report: ReportRequest) -> ReportOutcome:
        """Send the request once and say what came of it."""
        if self.settings.token is None:
            return Misconfigured("direct.token is not set", 0, None, None)
        body = {"params": self._params(report.date_from, report.date_to, report.name)}
        headers = self._headers(self.settings.token.get_secret_value())
        try:
            async with self.limiter:
                reply = await request(
                    http,
                    "POST",
                    self.url,
                    SERVICE,
                    json=body,
                    headers=headers,
                    timeout=self.timeout,
                )
        except DeliveryFailure as failure:  # network, time-out, a redirect not followed
            return TryLater(failure.message, failure.retry_after)
        return self._outcome(reply, report)

    def _shape(self) -> dict[str, str | bool]:
        """What besides the body shapes the report's text: the money and the login."""
        return {"micros": self.micros, "login": self.settings.client_login}

    def _params(self, date_from: date, date_to: date, name: str) -> dict[str, object]:
        return {
            "SelectionCriteria": {"DateFrom": date_from.isoformat(), "DateTo": date_to.isoformat()},
            "FieldNames": list(FIELDS),
            "ReportName": name,
            "ReportType": "CAMPAIGN_PERFORMANCE_REPORT",
            "DateRangeType": "CUSTOM_DATE",
            "Format": "TSV",
            "IncludeVAT": "YES" if self.settings.include_vat else "NO",
        }

    def _headers(self, token: str) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept-Language": self.settings.language,
            "processingMode": "auto",
            "skipReportHeader": "true",
        }
        if self.settings.client_login:
            headers["Client-Login"] = self.settings.client_login
        if not self.micros:
            headers["returnMoneyInMicros"] = "false"  # absent: micros (the documented default)
        return headers

    def _outcome(self, reply: Reply, report: ReportRequest) -> ReportOutcome:
        if reply.status == 200:
            return parse_report(reply.text, report, self.micros, reply.headers.get("RequestId"))
        if reply.status in (201, 202):
            return NotReady(
                reply.status, retry_in(reply), _int(reply.headers.get("reportsInQueue"))
            )
        return refusal(reply, report)


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.strip().isdigit() else None


def retry_in(reply: Reply) -> float:
    """The retryIn header in seconds, kept within sane bounds (a default when unreadable)."""
    text = reply.headers.get("retryIn")
    try:
        seconds = float(text) if text is not None else DEFAULT_RETRY_IN
    except ValueError:
        seconds = DEFAULT_RETRY_IN
    low, high = RETRY_IN_BOUNDS
    return min(max(seconds, low), high) if seconds == seconds else DEFAULT_RETRY_IN


@dataclass(frozen=True)
class ApiError:
    """The documented error body, as far as it was there."""

    code: int | None
    text: str
    request_id: str | None


def api_error(reply: Reply) -> ApiError:
    body = reply.json()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ApiError(None, reply.excerpt() or "(no body)", reply.headers.get("RequestId"))
    code = error.get("error_code")
    parts = [str(error.get(k) or "").strip() for k in ("error_string", "error_detail")]
    text = ": ".join(p for p in parts if p) or "(no error text)"
    request_id = error.get("request_id") or reply.headers.get("RequestId")
    return ApiError(
        int(code) if isinstance(code, int | str) and str(code).isdigit() else None,
        text,
        str(request_id) if request_id else None,
    )


def refusal(reply: Reply, report: ReportRequest) -> ReportOutcome:
    """An answer other than 200, 201 or 202, classified."""
    error = api_error(reply)
    said = f"{SERVICE} answered HTTP {reply.status}"
    if error.code is not None:
        said += f" error {error.code}"
    said += f": {error.text}"
    if error.request_id:
        said += f" (request_id {error.request_id})"
    if reply.status == 502:
        if report.date_from == report.date_to:  # one day cannot be split: wait instead
            return TryLater(f"{said}; a single day, asked again later", None)
        return SplitRange(said, halves(report.date_from, report.date_to))
    if reply.status == 400 and error.code in TEMPORARY_CODES:
        return TryLater(said, WAITS.get(error.code, DEFAULT_WAIT))
    if reply.status in (408, 425, 429) or reply.status >= 500:
        return TryLater(said, reply.retry_after())
    return Misconfigured(said, reply.status, error.code, error.request_id)


def halves(date_from: date, date_to: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """A range of two days or more in two: the first half ends where the second begins."""
    middle = date_from + (date_to - date_from) // 2
    return (date_from, middle), (middle + timedelta(days=1), date_to)


AMOUNT = re.compile(r"\d+(\.\d+)?")
COUNT = re.compile(r"\d+")
TRAILING_COUNT = re.compile(r"(\d+)\s*$")
NAME = re.compile(r"[A-Za-z]+")  # a field name: the column line has nothing else


def money(text: str, micros: bool) -> Decimal:
    """Micros (an integer) or an amount (decimal text) as an exact Decimal; ValueError else."""
    text = text.strip()
    if not (COUNT if micros else AMOUNT).fullmatch(text):
        raise ValueError(f"cost {text!r:.40} is not {'micros' if micros else 'an amount'}")
    with localcontext() as exact:
        exact.prec = 60
        exact.traps[Inexact] = True
        return Decimal(text) / MICROS if micros else Decimal(text)


def cost_row(cells: list[str], report: ReportRequest, micros: bool) -> CostRow:
    """One line of figures; ValueError when it cannot be read or lies outside the range."""
    day_text, campaign_id, name, impressions, clicks, cost = cells
    day = date.fromisoformat(day_text)
    if not report.date_from <= day <= report.date_to:
        raise ValueError(f"day {day} is outside {report.date_from}..{report.date_to}")
    if not all(COUNT.fullmatch(cell) for cell in (campaign_id, impressions, clicks)):
        raise ValueError("campaign id, impressions and clicks must be whole numbers")
    return CostRow(day, campaign_id, name, int(impressions), int(clicks), money(cost, micros))


def parse_report(
    text: str, report: ReportRequest, micros: bool, request_id: str | None
) -> ReportOutcome:
    """The TSV report: rows of FIELDS; a title line, the column line and the count line are
    recognised whether asked for or not. Unreadable lines are skipped and kept to show; a
    column line naming other fields, or a count that disagrees with the lines received,
    means the answer cannot be trusted, and it is asked again later."""
    lines = [line for line in text.splitlines() if line.strip()]
    rows: list[CostRow] = []
    skipped: list[str] = []
    counted: int | None = None
    for number, line in enumerate(lines):
        cells = line.split("\t")
        if len(cells) > 1 and all(NAME.fullmatch(cell) for cell in cells):  # column names
            if cells != list(FIELDS):
                return TryLater(f"{SERVICE} sent other columns than asked: {line!r:.200}", None)
            continue
        if len(cells) == len(FIELDS):
            try:
                rows.append(cost_row(cells, report, micros))
            except ValueError as error:
                skipped.append(f"{line[:EXCERPT]!r}: {error}")
            continue
        if len(cells) == 1 and report.name in line:
            continue  # the title line: the report's name and dates
        match = TRAILING_COUNT.search(line) if len(cells) == 1 else None
        if match and number == len(lines) - 1:
            counted = int(match.group(1))
            continue
        skipped.append(f"{line[:EXCERPT]!r}: {len(cells)} columns, expected {len(FIELDS)}")
    if counted is not None and counted != len(rows) + len(skipped):
        message = f"{SERVICE} counted {counted} rows but sent {len(rows) + len(skipped)}"
        return TryLater(message, None)
    if not rows and not skipped and counted is None:
        # No row, and not the count asked for ("Total rows: 0") either: an empty 200 (a
        # proxy's) or the column line alone is no report of a range without costs, which
        # would zero the range's costs.
        return TryLater(f"{SERVICE} answered 200 without rows or their count", None)
    return Report(tuple(rows), tuple(skipped), request_id)
