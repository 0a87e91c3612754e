"""The report pages: the UTM report (source -> medium -> campaign -> content -> term, each
level a page of its own) and the per-day table, for a period of local days; each, and the
overview's campaign report, downloadable as CSV and XLSX in the reader's language."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from common import appkeys
from common.errors import InvalidField
from common.report import (
    UTM_LEVELS,
    Figures,
    Period,
    Report,
    UtmReport,
    every_day,
    utm_report,
)
from services.dashboard import audit
from services.dashboard.export import Column, Table, table_csv, table_xlsx
from services.dashboard.keys import QUERIES
from services.dashboard.pages import words
from services.dashboard.queries import overview_scope, period_query, report_period

# Each measure: its key in Figures.measures(), its word in the catalogue, how it is written.
MEASURES = (
    ("leads", "leads", "count"),
    ("sales", "payments", "count"),
    ("revenue", "revenue", "money"),
    ("lead_to_sale", "conversion", "percent"),
    ("lost", "lost_leads", "count"),
    ("cost", "cost", "money"),
    ("clicks", "clicks", "count"),
    ("cpl", "cpl", "money"),
    ("cost_per_sale", "cost_per_sale", "money"),
    ("romi", "romi", "percent"),
)
COSTS = {"cost", "clicks", "cpl", "cost_per_sale", "romi"}  # unknown where no cost attaches
LONGEST_VALUE = 500  # a UTM value longer than any form keeps is a typo, not a value
TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def measure_columns(request: web.Request, totals: Figures) -> list[Column]:
    """The measures' columns in the reader's words. A money column names its currency: the
    one its figures are in, or without any the configured one (payments: yandex.currency,
    costs: direct.currency); none when they are in several."""
    t, settings = words(request), request.app[appkeys.SETTINGS]
    shown = totals.measures()
    currency = {
        "revenue": _only(shown["revenue_currencies"], settings.yandex.currency),
        "cost": _only(shown["cost_currencies"], settings.direct.currency),
    }
    return [
        Column(t(word), kind, currency["revenue" if key == "revenue" else "cost"])
        if kind == "money"
        else Column(t(word), kind)
        for key, word, kind in MEASURES
    ]


def _only(currencies: object, default: str) -> str | None:
    if isinstance(currencies, list) and len(currencies) > 1:
        return None
    return str(currencies[0]) if isinstance(currencies, list) and currencies else default


def measure_values(figures: Figures, cost_known: bool = True) -> list[object]:
    shown = figures.measures()
    return [None if key in COSTS and not cost_known else shown[key] for key, _, _ in MEASURES]


def utm_chosen(query: Mapping[str, str]) -> dict[str, str | None]:
    """The values chosen above the level shown (an empty one: the leads without a value)."""
    chosen: dict[str, str | None] = {}
    for name in UTM_LEVELS:
        if name in query:
            if len(query[name]) > LONGEST_VALUE:
                message = f"must be at most {LONGEST_VALUE} characters"
                raise InvalidField(f"{name}: {message}", [{"field": name, "message": message}])
            chosen[name] = query[name] or None
    return chosen


def _period(request: web.Request) -> Period:
    return report_period(request.query, request.app[QUERIES].today())


async def _utm(request: web.Request) -> tuple[UtmReport, Table, list[str | None]]:
    """The UTM report's level asked for, its table and each line's drill-down link."""
    period, chosen = _period(request), utm_chosen(request.query)
    campaign = request.query.get("campaign") or None
    overrides = request.app[appkeys.SETTINGS].direct.campaigns
    report = await request.app[appkeys.STORE].read(
        lambda tx: utm_report(tx, period, chosen, campaign, overrides)
    )
    t = words(request)
    columns = [Column(t(f"field_{report.level}"), "text"), *measure_columns(request, report.totals)]
    rows = [
        [line.value or t("utm_none"), *measure_values(line.figures, line.cost_known)]
        for line in report.lines
    ]
    table = Table("UTM", columns, rows, [t("total"), *measure_values(report.totals, False)])
    deeper = report.level != UTM_LEVELS[-1]
    links = [
        _utm_link(report, {report.level: line.value}) if deeper else None for line in report.lines
    ]
    return report, table, links


def _utm_link(report: UtmReport, chosen: Mapping[str, str | None], upto: int = 5) -> str:
    """The UTM report of the same period and campaign with these values chosen (the first
    `upto` levels of the report's own choice kept)."""
    kept = {name: value for name, value in report.chosen.items() if UTM_LEVELS.index(name) < upto}
    query = period_query(report.period) | ({"campaign": report.campaign} if report.campaign else {})
    query |= {name: value or "" for name, value in (kept | dict(chosen)).items()}
    return f"/admin/reports/utm?{urlencode(query)}"


async def utm_page(request: web.Request) -> web.Response:
    report, table, links = await _utm(request)
    t = words(request)
    crumbs = [(t("utm_all"), _utm_link(report, {}, upto=0))] + [
        (f"{t(f'field_{name}')}: {value or t('utm_none')}", _utm_link(report, {}, upto=n + 1))
        for n, (name, value) in enumerate(report.chosen.items())
    ]
    context = {
        "report": report,
        "table": table,
        "links": links,
        "crumbs": crumbs,
        "any_campaign": "/admin/reports/utm?"
        + urlencode(period_query(report.period) | {k: v or "" for k, v in report.chosen.items()}),
        "levels": UTM_LEVELS,
        "period": period_query(report.period),
        "downloads": _downloads(request, "/admin/reports/utm"),
    }
    return aiohttp_jinja2.render_template("reports_utm.html", request, context)


async def utm_download(request: web.Request) -> web.Response:
    report, table, _ = await _utm(request)
    name = f"utm-{report.level}-{report.period.first}-{report.period.last}"
    return await download(request, table, name)


async def _days(request: web.Request) -> tuple[Report, Table]:
    report = await request.app[QUERIES].report(_period(request))
    t = words(request)
    columns = [Column(t("day"), "day"), *measure_columns(request, report.totals)]
    rows = [[day, *measure_values(figures)] for day, figures in every_day(report)]
    return report, Table(
        t("days_sheet"), columns, rows, [t("total"), *measure_values(report.totals)]
    )


async def days_page(request: web.Request) -> web.Response:
    report, table = await _days(request)
    context = {
        "table": table,
        "period": period_query(report.period),
        "downloads": _downloads(request, "/admin/reports/days"),
    }
    return aiohttp_jinja2.render_template("reports_days.html", request, context)


async def days_download(request: web.Request) -> web.Response:
    report, table = await _days(request)
    return await download(request, table, f"days-{report.period.first}-{report.period.last}")


async def campaigns_download(request: web.Request) -> web.Response:
    """The overview's campaign report, in the reader's language (the XLSX beside the CSV)."""
    scope = overview_scope(request.query)  # the overview's campaign and source, if chosen
    report = await request.app[QUERIES].report(_period(request), scope)
    t = words(request)
    columns = [Column(t("campaign"), "text"), *measure_columns(request, report.totals)]
    rows = [
        [
            line.campaign_id or t("direct_campaign", name=line.direct_name),
            *measure_values(line.figures),
        ]
        for line in report.campaigns
    ]
    table = Table(t("campaigns"), columns, rows, [t("total"), *measure_values(report.totals)])
    return await download(request, table, f"campaigns-{report.period.first}-{report.period.last}")


def _downloads(request: web.Request, path: str) -> dict[str, str]:
    query = f"?{request.query_string}" if request.query_string else ""
    return {kind: f"{path}.{kind}{query}" for kind in TYPES}


async def download(request: web.Request, table: Table, name: str) -> web.Response:
    """The table as the file asked for (`kind`: csv, else xlsx); the download is recorded
    in the audit log with its name (the period in it) and the filters asked."""
    kind = request.match_info.get("kind", "xlsx")
    await audit.exported(request, f"{name}.{kind}")
    lang = words(request).lang
    body = table_csv(table, lang) if kind == "csv" else table_xlsx(table, lang)
    return web.Response(
        body=body,
        headers={
            "Content-Type": TYPES[kind],
            "Content-Disposition": f'attachment; filename="{name}.{kind}"',
        },
    )
