"""Unmatched payments: won deals no lead of ours matched, and attaching one to a lead."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from common import appkeys
from common.errors import Conflict, LeadNotFound
from common.payments import PaymentService
from services.dashboard import auth
from services.dashboard.connections import crm_link
from services.dashboard.keys import INTEGRATIONS
from services.dashboard.pages import flash, row_id, words

ALREADY_PAID = "already paid"  # what PaymentService.attach's Conflict says of a paid lead


async def page(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    open_payments = await request.app[appkeys.STORE].read(lambda tx: tx.unmatched.open())
    integrations = request.app[INTEGRATIONS]
    context: dict[str, object] = {
        "payments": [(p, crm_link(integrations, p.connection, p.crm_ref)) for p in open_payments],
        "error": error,
    }
    return aiohttp_jinja2.render_template("payments.html", request, context, status=status)


async def unmatched(request: web.Request) -> web.Response:
    return await page(request)


async def attach(request: web.Request) -> web.StreamResponse:
    form = await auth.check_csrf(request)
    payment_id = row_id(request, "payment_id", "payment")
    lead_id = str(form.get("lead_id", "")).strip()
    user = str((await get_session(request)).get("user", "?"))
    t = words(request)
    store = request.app[appkeys.STORE]
    try:
        await store.write(lambda tx: PaymentService.attach(tx, payment_id, lead_id, user))
    except LeadNotFound as error:  # a person typed it: the page again, with why
        return await page(request, t("lead_not_found", lead=lead_id), status=error.status)
    except Conflict as error:
        said = "pay_lead_paid" if ALREADY_PAID in error.message else "pay_already_attached"
        return await page(request, t(said, lead=lead_id), status=error.status)
    lead, payment = await store.read(
        lambda tx: (tx.leads.get(lead_id), tx.unmatched.get(payment_id))
    )
    amount = t.money(payment.amount, payment.currency) if payment else ""
    await flash(request, t("flash_attached", amount=amount, lead=lead.name or lead.id))
    raise web.HTTPFound(str(request.app.router["payments"].url_for()))
