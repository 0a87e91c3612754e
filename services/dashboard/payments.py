"""Unmatched payments: won deals no lead of ours matched, and attaching one to a lead."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from common import appkeys
from common.errors import Conflict, LeadNotFound, NotFound
from common.integrations.base import CrmIntegration
from common.payments import PaymentService
from common.store.unmatched import UnmatchedPayment
from services.dashboard import auth
from services.dashboard.keys import INTEGRATIONS


def crm_link(integrations: dict[str, CrmIntegration], payment: UnmatchedPayment) -> str | None:
    """Where a person opens the deal in the CRM, when the CRM has such a page."""
    integration = integrations.get(payment.connection)
    return None if integration is None else integration.deal_link(payment.crm_ref)


async def page(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    open_payments = await request.app[appkeys.STORE].read(lambda tx: tx.unmatched.open())
    integrations = request.app[INTEGRATIONS]
    context: dict[str, object] = {
        "payments": [(p, crm_link(integrations, p)) for p in open_payments],
        "error": error,
    }
    return aiohttp_jinja2.render_template("payments.html", request, context, status=status)


async def unmatched(request: web.Request) -> web.Response:
    return await page(request)


async def attach(request: web.Request) -> web.StreamResponse:
    form = await auth.check_csrf(request)
    try:
        payment_id = int(request.match_info["payment_id"])
    except ValueError:
        raise NotFound("no such payment") from None
    lead_id = str(form.get("lead_id", "")).strip()
    user = str((await get_session(request)).get("user", "?"))
    try:
        await request.app[appkeys.STORE].write(
            lambda tx: PaymentService.attach(tx, payment_id, lead_id, user)
        )
    except (LeadNotFound, Conflict) as error:  # a person typed it: the page again, with why
        return await page(request, error.message, status=error.status)
    raise web.HTTPFound(str(request.app.router["payments"].url_for()))
