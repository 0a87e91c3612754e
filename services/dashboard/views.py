"""The dashboard's HTML pages and forms."""

from __future__ import annotations

from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from common import appkeys
from common.campaigns import CampaignService
from common.contacts import mask_email, mask_phone
from common.errors import InvalidField
from common.events import DirectCostReported
from common.model import Event, Lead
from common.report import Period
from common.store import Tx
from services.dashboard import auth, i18n
from services.dashboard.charts import line_chart
from services.dashboard.connections import credential_states
from services.dashboard.export import report_csv
from services.dashboard.keys import QUERIES
from services.dashboard.pages import invalid_fields, words
from services.dashboard.queries import period_query, report_period


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


async def admin(request: web.Request) -> web.Response:
    """The overview; its campaign table covers `date_from`..`date_to` (the last 30 days)."""
    queries = request.app[QUERIES]
    try:
        period, error = report_period(request.query, queries.today()), None
    except InvalidField as invalid:  # a person typed it: the default period, and why
        fields = invalid_fields(words(request), invalid)
        period, error = report_period({}, queries.today()), "; ".join(map(": ".join, fields))
    context = await overview(request, period) | {"period_error": error}
    status = 422 if error else 200
    return aiohttp_jinja2.render_template("admin.html", request, context, status=status)


async def overview(request: web.Request, period: Period) -> dict[str, object]:
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
            "latest_events": [(e, lead_of(e)) for e in tx.events.latest(10)],
            "connections": credential_states(settings, tx.credentials.all()),
        }

    page = await request.app[appkeys.STORE].read(read)
    report = await queries.report(period)
    return page | {
        "health": await queries.health(),
        "charts": charts,
        "report": report,
        "period": period_query(period),
        "report_csv": f"/admin/campaigns.csv?{urlencode(period_query(period))}",
    }


def lead_of(event: Event) -> str | None:
    """The lead an event is about; None for a stream of another kind (a Direct campaign's)."""
    return None if isinstance(event.payload, DirectCostReported) else event.stream_id


async def export_campaigns(request: web.Request) -> web.Response:
    """The campaign report for the period, as CSV (see services.dashboard.export)."""
    queries = request.app[QUERIES]
    period = report_period(request.query, queries.today())
    name = f"campaigns-{period.first}-{period.last}.csv"
    return web.Response(
        body=report_csv(await queries.report(period)),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


def masked(lead: Lead) -> dict[str, object]:
    shown = lead.as_dict()
    shown["phone"], shown["email"] = mask_phone(lead.phone), mask_email(lead.email)
    return shown


async def root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(url(request, "admin"))
