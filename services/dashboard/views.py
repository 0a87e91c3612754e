"""The dashboard's HTML pages and forms."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from common import appkeys
from common.campaigns import CampaignService
from common.contacts import mask_email, mask_phone
from common.model import Lead
from common.store import Tx
from services.dashboard import auth, i18n
from services.dashboard.charts import line_chart
from services.dashboard.connections import credential_states
from services.dashboard.keys import QUERIES


def url(request: web.Request, name: str) -> str:
    """A named route's path, so redirects follow the routes table."""
    return str(request.app.router[name].url_for())


@aiohttp_jinja2.template("login.html")
async def login_page(request: web.Request) -> dict[str, object]:
    return {"next": auth.safe_next(request.query.get("next")), "error": False}


async def login(request: web.Request) -> web.StreamResponse:
    form = await auth.check_csrf(request)
    if await auth.log_in(request, form):
        raise web.HTTPFound(auth.safe_next(form.get("next")))
    context = {"next": auth.safe_next(form.get("next")), "error": True}
    return aiohttp_jinja2.render_template("login.html", request, context, status=401)


async def logout(request: web.Request) -> web.StreamResponse:
    await auth.check_csrf(request)
    await auth.log_out(request)
    raise web.HTTPFound(url(request, "login_page"))


async def set_language(request: web.Request) -> web.StreamResponse:
    form = await auth.check_csrf(request)
    response = web.HTTPFound(auth.safe_next(form.get("next")))
    lang = i18n.language(form.get("lang"))
    response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="Lax")
    raise response


@aiohttp_jinja2.template("admin.html")
async def admin(request: web.Request) -> dict[str, object]:
    queries = request.app[QUERIES]
    t = i18n.translator(i18n.language(request.cookies.get(i18n.COOKIE)))
    daily = await queries.daily()
    charts = {
        metric: line_chart(daily["days"], daily["series"][metric], t(f"per_day_{metric}"))
        for metric in ("leads", "payments", "revenue")
    }

    settings = request.app[appkeys.SETTINGS]

    def read(tx: Tx) -> dict[str, object]:
        return {
            "totals": CampaignService.totals(tx),
            "campaigns": CampaignService.stats(tx),
            "latest_leads": [masked(lead) for lead in tx.leads.latest(10)],
            "latest_events": tx.events.latest(10),
            "connections": credential_states(settings, tx.credentials.all()),
        }

    page = await request.app[appkeys.STORE].read(read)
    return page | {"health": await queries.health(), "charts": charts}


def masked(lead: Lead) -> dict[str, object]:
    shown = lead.as_dict()
    shown["phone"], shown["email"] = mask_phone(lead.phone), mask_email(lead.email)
    return shown


async def root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(url(request, "admin"))
