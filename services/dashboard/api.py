"""The JSON read API: the same numbers as the pages, for scripts and BI tools."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from common import appkeys
from services.dashboard import views
from services.dashboard.keys import QUERIES
from services.dashboard.queries import LeadFilter, page_bounds


async def stats(request: web.Request) -> web.Response:
    queries = request.app[QUERIES]
    health = await queries.health()
    health["failing"] = [{"connection": c, "tasks": n} for c, n in health["failing"]]
    return web.json_response(
        {
            "totals": await views.totals(request),
            "campaigns": await request.app[appkeys.CAMPAIGNS].stats(),
            "tasks": health,
        }
    )


async def leads(request: web.Request) -> web.Response:
    where = LeadFilter.from_query(request.query)
    limit, offset = page_bounds(request.query)
    rows = await request.app[QUERIES].leads(where, limit, offset)
    return web.json_response(
        {"leads": [dict(row) for row in rows], "limit": limit, "offset": offset}
    )


async def lead(request: web.Request) -> web.Response:
    row = await request.app[appkeys.LEADS].get(request.match_info["lead_id"])
    return web.json_response(dict(row))


async def lead_events(request: web.Request) -> web.Response:
    lead_id = request.match_info["lead_id"]
    await request.app[appkeys.LEADS].get(lead_id)  # 404 for an unknown lead
    events = await request.app[appkeys.EVENTS].read_stream(lead_id)
    return web.json_response({"events": [asdict(e) for e in events]})
