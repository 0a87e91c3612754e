"""Unmatched payments: won deals no lead of ours matched, and attaching one to a lead."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from common import appkeys
from common.config import AmoCrmConnection, Bitrix24Connection, Settings
from common.errors import Conflict, LeadNotFound, NotFound
from common.payments import PaymentService
from common.store.unmatched import UnmatchedPayment
from services.dashboard import auth


def crm_link(settings: Settings, payment: UnmatchedPayment) -> str | None:
    """Where a person opens the deal in the CRM, when the CRM has such a page."""
    connection = settings.crm.get(payment.connection)
    if isinstance(connection, AmoCrmConnection) and not payment.crm_ref.startswith("deal:"):
        return f"{str(connection.base_url).rstrip('/')}/leads/detail/{payment.crm_ref}"
    if isinstance(connection, Bitrix24Connection):
        parts = urlsplit(str(connection.base_url))  # the inbound webhook URL on the portal
        root = f"{parts.scheme}://{parts.netloc}"
        if payment.crm_ref.startswith("deal:"):
            return f"{root}/crm/deal/details/{payment.crm_ref.removeprefix('deal:')}/"
        return f"{root}/crm/lead/details/{payment.crm_ref}/"
    return None


async def page(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    open_payments = await request.app[appkeys.STORE].read(lambda tx: tx.unmatched.open())
    settings = request.app[appkeys.SETTINGS]
    context: dict[str, Any] = {
        "payments": [(p, crm_link(settings, p)) for p in open_payments],
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
