"""The JSON read API: the same numbers as the pages, for scripts and BI tools."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal

from aiohttp import web

from common import appkeys
from common.campaigns import CampaignService
from common.model import CampaignStats, Lead
from common.report import Figures, Report
from common.store import Tx
from common.store.codec import event_data
from services.dashboard.keys import QUERIES
from services.dashboard.lead_list import read_filter
from services.dashboard.queries import page_bounds, period_query, report_period


def campaign_json(stats: CampaignStats) -> dict[str, object]:
    return asdict(stats) | {"conversion": stats.conversion}


def figures_json(figures: Figures) -> dict[str, object]:
    """Measures as JSON: money and per cents as exact decimal text ("1234.50"), or null."""
    return {
        name: str(value) if isinstance(value, Decimal) else value
        for name, value in figures.measures().items()
    }


def report_json(report: Report) -> dict[str, object]:
    return {
        "campaigns": [
            {
                "campaign": line.name,
                "campaign_id": line.campaign_id,
                "direct_campaign_ids": line.direct_campaign_ids,
            }
            | figures_json(line.figures)
            for line in report.campaigns
        ],
        "totals": figures_json(report.totals),
        "days": [{"day": day} | figures_json(figures) for day, figures in report.days],
    }


async def stats(request: web.Request) -> web.Response:
    """All-time counters and task health, and the campaign report for a period of local days
    (`date_from`, `date_to`; the last 30 days by default)."""
    queries = request.app[QUERIES]
    period = report_period(request.query, queries.today())
    report = await queries.report(period)
    health = await queries.health()
    health["failing"] = [{"connection": c, "tasks": n} for c, n in health["failing"]]
    health["reconciliation"] = {
        name: {
            "failures": r.failures,
            "problem": r.problem,
            "skipped": r.skipped,
            "webhook": r.webhook,
        }
        for name, r in health["reconciliation"].items()
    }

    def read(tx: Tx) -> dict[str, object]:
        return {
            "totals": CampaignService.totals(tx),
            "campaigns": [campaign_json(c) for c in CampaignService.stats(tx)],
        }

    found = await request.app[appkeys.STORE].read(read)
    timezone = request.app[appkeys.SETTINGS].dashboard.timezone
    return web.json_response(
        found
        | {"tasks": health, "period": period_query(period) | {"timezone": timezone}}
        | {"report": report_json(report)}
    )


async def leads(request: web.Request) -> web.Response:
    """A page of the leads the filter and search (`q`) match, and how many match in all."""
    where = read_filter(request)
    limit, offset = page_bounds(request.query)

    def read(tx: Tx) -> tuple[list[Lead], int]:
        return tx.leads.page(where, limit, offset=offset), tx.leads.count(where)

    found, total = await request.app[appkeys.STORE].read(read)
    return web.json_response(
        {
            "leads": [lead.as_dict() for lead in found],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )


async def lead(request: web.Request) -> web.Response:
    lead_id = request.match_info["lead_id"]
    found = await request.app[appkeys.STORE].read(lambda tx: tx.leads.get(lead_id))
    return web.json_response(found.as_dict())


async def lead_events(request: web.Request) -> web.Response:
    lead_id = request.match_info["lead_id"]

    def read(tx: Tx) -> list[dict[str, object]]:
        tx.leads.get(lead_id)  # 404 for an unknown lead
        # Each event as the store keeps it: its `data` is the stable, documented shape.
        return [
            {
                "stream_id": e.stream_id,
                "version": e.version,
                "type": e.type,
                "data": event_data(e.payload),
                "metadata": dict(e.metadata),
                "created_at": e.created_at,
                "position": e.position,
            }
            for e in tx.events.read_stream(lead_id)
        ]

    return web.json_response({"events": await request.app[appkeys.STORE].read(read)})
