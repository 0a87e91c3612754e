"""The leads list: filters, one search box (a phone, an e-mail, a name or a lead's id), the
total of what matches, 50 a page, times in the dashboard's zone."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from common import appkeys
from common.campaigns import CampaignService
from common.errors import InvalidField
from common.model import Lead, LeadStatus
from common.store import LeadFilter, Tx
from services.dashboard.pages import invalid_fields, words
from services.dashboard.queries import lead_filter, page_bounds, query_string
from services.dashboard.views import masked

PAGE = 50


def read_filter(request: web.Request, query: Mapping[str, str] | None = None) -> LeadFilter:
    """The filter and search in a request's query (or `query`); a phone typed in the search
    is read with ingest's region, as ingest read the phones it stored."""
    region = request.app[appkeys.SETTINGS].ingest.default_phone_region
    return lead_filter(request.query if query is None else query, region)


async def page(request: web.Request) -> web.Response:
    store = request.app[appkeys.STORE]
    try:
        where = read_filter(request)
        _, offset = page_bounds(request.query, default=PAGE)
    except InvalidField as error:  # a person typed it: show the form again, with why
        fields = invalid_fields(words(request), error)
        campaigns = await store.read(lambda tx: [c.campaign_id for c in CampaignService.stats(tx)])
        context = {
            "leads": [],
            "total": 0,
            "where": LeadFilter(),
            "typed": request.query.get("q", "")[:200],
            "statuses": list(LeadStatus),
            "campaigns": campaigns,
            "error": "; ".join(f"{field}: {need}" for field, need in fields),
        }
        return aiohttp_jinja2.render_template("leads.html", request, context, status=422)

    def read(tx: Tx) -> tuple[list[str], list[Lead], int]:
        campaigns = [c.campaign_id for c in CampaignService.stats(tx)]
        return campaigns, tx.leads.page(where, PAGE, offset=offset), tx.leads.count(where)

    campaigns, found, total = await store.read(read)  # the page and its total: one snapshot
    params = query_string(where)
    context = {
        "leads": [masked(lead) for lead in found],
        "total": total,
        "first": offset + 1,
        "last": offset + len(found),
        "where": where,
        "typed": where.search.typed if where.search else "",
        "statuses": list(LeadStatus),
        "campaigns": campaigns,
        "next_url": f"?{urlencode(params | {'offset': offset + PAGE})}"
        if offset + PAGE < total
        else None,
        "prev_url": f"?{urlencode(params | {'offset': max(offset - PAGE, 0)})}" if offset else None,
        "csv_url": f"/admin/leads.csv?{urlencode(params)}",
        "xlsx_url": f"/admin/leads.xlsx?{urlencode(params)}",
    }
    return aiohttp_jinja2.render_template("leads.html", request, context)
