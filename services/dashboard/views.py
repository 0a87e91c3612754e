"""The dashboard's HTML pages and forms."""

from __future__ import annotations

from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from common import appkeys, clock
from common.campaigns import CampaignService
from common.contacts import mask_email, mask_phone
from common.errors import InvalidField
from common.events import DirectCostReported
from common.model import Event, Lead
from common.report import Period, Scope
from common.store import Tx
from common.store.acknowledged import Acknowledged
from common.store.alerts import ChatState
from common.store.tasks import PendingGroup
from services.dashboard import audit, auth, headline, i18n, problems
from services.dashboard.connections import CredentialState, credential_states
from services.dashboard.export import report_csv
from services.dashboard.keys import QUERIES
from services.dashboard.pages import invalid_fields, words
from services.dashboard.queries import (
    NO_SOURCE,
    PRESETS,
    overview_period,
    overview_query,
    overview_scope,
    period_query,
    report_period,
)


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
    """The overview of a period (`period`: a preset, or `date_from`..`date_to`; the last 30
    days by default), of every lead or one `campaign`'s or one `source`'s."""
    queries = request.app[QUERIES]
    try:
        period, preset = overview_period(request.query, queries.today())
        error = None
    except InvalidField as invalid:  # a person typed it: the default period, and why
        fields = invalid_fields(words(request), invalid)
        (period, preset), error = (
            overview_period({}, queries.today()),
            "; ".join(map(": ".join, fields)),
        )
    context = await overview(request, period, preset, overview_scope(request.query))
    status = 422 if error else 200
    context["period_error"] = error
    return aiohttp_jinja2.render_template("admin.html", request, context, status=status)


async def overview(
    request: web.Request, period: Period, preset: str, scope: Scope
) -> dict[str, object]:
    queries = request.app[QUERIES]
    t = words(request)
    settings = request.app[appkeys.SETTINGS]

    def read(
        tx: Tx,
    ) -> tuple[dict[str, object], list[CredentialState], list[ChatState], dict[str, Acknowledged]]:
        page = {
            "campaigns": CampaignService.stats(tx),
            "latest_leads": [masked(lead) for lead in tx.leads.latest(10)],
            "latest_events": [(e, lead_of(e)) for e in tx.events.latest(10)],
            "queue": waiting(tx.tasks.pending_groups()),
        }
        connections = credential_states(settings, tx.credentials.all())
        chats = tx.alerts.blocked_chats()
        return page, connections, chats, tx.acknowledged.current(clock.iso(clock.now()))

    page, connections, chats, acknowledged = await request.app[appkeys.STORE].read(read)
    report, previous, sources = await queries.overview(period, scope)
    chosen = overview_query(period, preset, scope)
    health = await queries.health()
    shown = problems.current(health["failing"], health["reconciliation"], connections, chats)
    return page | {
        "connections": connections,
        "blocked_chats": chats,
        "acknowledged": problems.holding(shown, acknowledged),
        "health": health,
        "report": report,
        "previous": previous,
        "cards": headline.cards(report, previous, t),
        "charts": headline.charts(report, t),
        "period": period_query(period),
        "preset": preset,
        "presets": [(name, urlencode(chosen | {"period": name})) for name in PRESETS],
        "scope": scope,
        "sources": sources,
        "no_source": NO_SOURCE,
        "previous_lines": {line.name: line.figures.measures() for line in previous.campaigns},
        "exports": exports(period, scope),
    }


def exports(period: Period, scope: Scope) -> dict[str, str]:
    """The overview's downloads, with its choices where the export reads them: the campaign
    report takes the campaign and the source; the leads take the campaign (the leads list
    has no source filter); the per-day table is every campaign's."""
    dates = period_query(period)
    chosen = overview_query(period, "custom", scope)
    leads = dates | ({"campaign": scope.campaign} if scope.campaign else {})
    found = {}
    for kind in ("csv", "xlsx"):
        found[f"campaigns_{kind}"] = f"/admin/campaigns.{kind}?{urlencode(chosen)}"
        found[f"leads_{kind}"] = f"/admin/leads.{kind}?{urlencode(leads)}"
        found[f"days_{kind}"] = f"/admin/reports/days.{kind}?{urlencode(dates)}"
    return found


def waiting(groups: list[PendingGroup]) -> dict[str, int]:
    """Pending tasks: due now, apart from those waiting on purpose (a backoff, a check's
    interval)."""
    return {
        "due": sum(g.count for g in groups if g.due),
        "waiting": sum(g.count for g in groups if not g.due),
    }


def lead_of(event: Event) -> str | None:
    """The lead an event is about; None for a stream of another kind (a Direct campaign's)."""
    return None if isinstance(event.payload, DirectCostReported) else event.stream_id


async def export_campaigns(request: web.Request) -> web.Response:
    """The campaign report for the period, of one campaign or source when the overview
    has one chosen, as CSV (see services.dashboard.export)."""
    queries = request.app[QUERIES]
    period = report_period(request.query, queries.today())
    name = f"campaigns-{period.first}-{period.last}.csv"
    await audit.exported(request, name)
    return web.Response(
        body=report_csv(await queries.report(period, overview_scope(request.query))),
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
