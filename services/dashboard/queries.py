"""What the dashboard pages show, computed from the store's reads."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Mapping
from datetime import date, timedelta
from typing import Any, TypedDict

from common import clock
from common.campaigns import CampaignService
from common.config import Settings
from common.days import today as today_in
from common.errors import InvalidField
from common.model import Lead, LeadStatus, TaskStatus, TaskType
from common.reconciling import Reading
from common.report import Period, Points, Report, Scope, campaign_report
from common.search import read_search
from common.store import LeadFilter, Store, Tx
from common.store.sql import Row
from services.dashboard.charts import Axis

CHART_CAMPAIGNS = 6
REPORT_DAYS = 30  # a report's period when none is asked for
# A report's longest period, in days: ten years. Longer ones ("from 1970") are refused, so a
# report, its per-day table and its exports stay a few thousand lines at most.
LONGEST_PERIOD = 3653
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)  # a filter's day + 1 must exist
MOST_OFFSET = 10**9  # SQLite's integers end at 2**63; nobody pages a billion leads
RETRYING_ATTEMPTS = 3  # a pending task tried this often counts as its connection failing


def lead_filter(query: Mapping[str, str], region: str) -> LeadFilter:
    """The filter a person typed into the leads page (or the API's query string); `q` is the
    search, a phone in it read with `region` (ingest's) as ingest reads one."""
    try:
        search = read_search(query.get("q"), region)
    except ValueError as error:
        raise _invalid("q", str(error)) from None
    status = query.get("status") or None
    if status is not None and status not in LeadStatus.__members__.values():
        raise _invalid("status", f"must be one of {', '.join(LeadStatus)}")
    return LeadFilter(
        campaign=query.get("campaign") or None,
        status=LeadStatus(status) if status else None,
        search=search,
        **read_dates(query),
    )


def read_dates(query: Mapping[str, str]) -> dict[str, date | None]:
    """`date_from` and `date_to` as typed (None when absent); 422 naming a bad one."""
    dates: dict[str, date | None] = {}
    for name in ("date_from", "date_to"):
        value = query.get(name) or None
        try:
            day = date.fromisoformat(value) if value else None
        except ValueError:
            raise _invalid(name, "must be a date YYYY-MM-DD") from None
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise _invalid(name, f"must be between {FIRST_DAY} and {LAST_DAY}")
        dates[name] = day
    return dates


def report_period(query: Mapping[str, str], today: date) -> Period:
    """The period a report is asked for: `date_from`..`date_to` (local days, both included);
    without them the last REPORT_DAYS days up to `today`, today included. 422 naming
    date_from for a period longer than LONGEST_PERIOD days."""
    dates = read_dates(query)
    last = dates["date_to"] or max(today, dates["date_from"] or today)
    first = dates["date_from"] or Period.ending(last, REPORT_DAYS).first
    if first > last:
        raise _invalid("date_from", f"must be on or before the period's last day, {last}")
    if (last - first).days >= LONGEST_PERIOD:
        earliest = last - timedelta(days=LONGEST_PERIOD - 1)
        raise _invalid("date_from", f"must be on or after {earliest}: a period is 10 years at most")
    return Period(first, last)


PRESETS = ("today", "yesterday", "7", "30", "90")  # the overview's periods; else a custom one


def overview_period(query: Mapping[str, str], today: date) -> tuple[Period, str]:
    """The overview's period and which of PRESETS it is ("custom" for typed dates):
    `period` names a preset; `date_from`/`date_to` without one are a custom range."""
    typed = query.get("date_from") or query.get("date_to")
    preset = query.get("period") or ("custom" if typed else "30")
    if preset == "today":
        return Period(today, today), preset
    if preset == "yesterday":
        yesterday = today - timedelta(days=1)
        return Period(yesterday, yesterday), preset
    if preset in PRESETS:
        return Period.ending(today, int(preset)), preset
    if preset != "custom":
        raise _invalid("period", f"must be one of {', '.join(PRESETS)} or custom")
    return report_period(query, today), preset


def overview_scope(query: Mapping[str, str]) -> Scope:
    """The overview's filters: a campaign, a utm_source (NO_SOURCE for leads without one)."""
    source = query.get("source") or None
    return Scope(query.get("campaign") or None, "" if source == NO_SOURCE else source)


NO_SOURCE = "-"


def overview_query(period: Period, preset: str, scope: Scope) -> dict[str, str]:
    """The overview's choices as query parameters: links keep them."""
    found = {"period": preset} if preset != "custom" else period_query(period)
    if scope.campaign:
        found["campaign"] = scope.campaign
    if scope.source is not None:
        found["source"] = scope.source or NO_SOURCE
    return found


def period_query(period: Period) -> dict[str, str]:
    """The period as query parameters, for links to the same report elsewhere."""
    return {"date_from": period.first.isoformat(), "date_to": period.last.isoformat()}


def query_string(where: LeadFilter) -> dict[str, str]:
    """The filter as query parameters, for links to the next page and the export."""
    shown = {k: str(v) for k, v in where.__dict__.items() if v and k != "search"}
    return shown | ({"q": where.search.typed} if where.search else {})


def _invalid(field: str, message: str) -> InvalidField:
    return InvalidField(f"{field}: {message}", [{"field": field, "message": message}])


def page_bounds(query: Mapping[str, str], default: int = 50, most: int = 500) -> tuple[int, int]:
    try:
        limit = int(query.get("limit", default))
        offset = int(query.get("offset", 0))
    except ValueError:
        raise _invalid("limit", "limit and offset must be whole numbers") from None
    if not 1 <= limit <= most:
        raise _invalid("limit", f"must be from 1 to {most}")
    if not 0 <= offset <= MOST_OFFSET:
        raise _invalid("offset", f"must be from 0 to {MOST_OFFSET}")
    return limit, offset


class Daily(TypedDict):
    """The days of a chart, and per metric (leads, payments, revenue) each campaign's values."""

    days: list[str]
    series: dict[str, dict[str, list[float]]]


Readings = dict[str, Reading]


class DashboardQueries:
    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings

    async def health(self) -> dict[str, Any]:
        """Open task counts (not completed: that one grows forever) and failing connections."""

        def read(tx: Tx) -> tuple[dict[TaskStatus, int], str | None, list[Row], Readings]:
            troubled = tx.tasks.troubled_leads(TaskType.SEND_TO_CRM, RETRYING_ATTEMPTS)
            return tx.tasks.open_counts(), tx.tasks.oldest_pending(), troubled, tx.cursors.all()

        counts, oldest, troubled, readings = await self.store.read(read)
        age = (clock.now() - clock.parse(oldest)).total_seconds() if oldest else None
        failing = Counter(
            row["crm_connection"] or self.settings.route_for(row["campaign_id"]) or ""
            for row in troubled
        )
        return {str(status): n for status, n in counts.items()} | {
            "oldest_pending_seconds": age,
            "failing": sorted(failing.items(), key=lambda kv: -kv[1]),
            "reconciliation": readings,  # by connection: failures, skipped, webhook
        }

    async def daily(self, days: int = 30) -> Daily:
        """Per-day series per campaign (the busiest few, the rest as 'other'), on the days
        of the business's zone up to its today."""
        today = today_in(self.store.zone)
        axis = [(today - timedelta(days=days - 1 - n)).isoformat() for n in range(days)]
        rows = await self.store.read(lambda tx: CampaignService.daily(tx, axis[0]))
        busiest: Counter[str] = Counter()
        for row in rows:
            busiest[row["campaign_id"]] += row["leads"] + row["payments"]
        shown = {name for name, _ in busiest.most_common(CHART_CAMPAIGNS)}
        series: dict[str, dict[str, list[float]]] = {
            metric: defaultdict(lambda: [0.0] * days) for metric in ("leads", "payments", "revenue")
        }
        index = {day: n for n, day in enumerate(axis)}
        for row in rows:
            name = row["campaign_id"] if row["campaign_id"] in shown else "other"
            n = index.get(row["day"])
            if n is None:
                continue
            series["leads"][name][n] += row["leads"]
            series["payments"][name][n] += row["payments"]
            series["revenue"][name][n] += row["revenue_minor"] / 100
        return Daily(days=axis, series={k: dict(v) for k, v in series.items()})

    def today(self) -> date:
        """Today in the business's time zone (`dashboard.timezone`)."""
        return today_in(self.store.zone)

    async def report(self, period: Period, scope: Scope | None = None) -> Report:
        """The campaign report for the period (and scope): one read snapshot."""
        overrides = self.settings.direct.campaigns
        return await self.store.read(lambda tx: campaign_report(tx, period, overrides, scope))

    async def overview(self, period: Period, scope: Scope) -> tuple[Report, Report, list[str]]:
        """The period's report (by its charts' points: Axis) and the previous period's (as
        many days just before; its lines and totals alone are shown: one point), for the
        scope, and the utm_sources the two periods have: one read snapshot."""
        overrides = self.settings.direct.campaigns
        before, axis = period.previous(), Axis.of(period)

        def read(tx: Tx) -> tuple[Report, Report, list[str]]:
            sources = tx.stats.sources(before.first.isoformat(), period.last.isoformat())
            return (
                campaign_report(tx, period, overrides, scope, axis.points()),
                campaign_report(tx, before, overrides, scope, Points.whole(before)),
                sources,
            )

        return await self.store.read(read)

    async def export(self, where: LeadFilter, batch: int = 1000) -> AsyncIterator[Lead]:
        """Every matching lead, newest first, a batch at a time (keyset, not OFFSET)."""
        after: tuple[str, str] | None = None
        while True:
            rows = await self.store.read(
                lambda tx, after=after: tx.leads.page(where, batch, after=after)  # type: ignore[misc]
            )
            for lead in rows:
                yield lead
            if len(rows) < batch:
                return
            after = (rows[-1].created_at, rows[-1].id)
