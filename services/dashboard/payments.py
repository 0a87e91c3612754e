"""Unmatched payments: won deals no lead of ours matched, finding the lead each is for (the
leads list's search: a phone, an e-mail, a name or the lead's id) and attaching it; or
dismissing one as not ours, with why, and bringing a dismissed one back."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from common import appkeys
from common.audit import Action
from common.errors import Conflict, InvalidField, LeadNotFound, NotFound
from common.model import Lead
from common.payments import PaymentService
from common.store import Tx
from common.store.unmatched import UnmatchedPayment
from services.dashboard import audit, auth
from services.dashboard.connections import crm_link
from services.dashboard.keys import INTEGRATIONS
from services.dashboard.lead_list import read_filter
from services.dashboard.pages import flash, invalid_fields, row_id, words
from services.dashboard.views import masked

ALREADY_PAID = "already paid"  # what PaymentService.attach's Conflict says of a paid lead
DISMISSED = "dismissed as not ours"  # and of a dismissed payment
CANDIDATES = 10  # leads shown for one search; more and the person narrows it
LONGEST_REASON = 200  # characters of why a payment is not ours


@dataclass
class Found:
    """The leads a search for one payment's lead found."""

    payment_id: int
    typed: str
    leads: list[dict[str, object]]
    total: int


async def page(
    request: web.Request,
    error: str | None = None,
    status: int = 200,
    found: Found | None = None,
) -> web.Response:
    open_payments, dismissed = await request.app[appkeys.STORE].read(
        lambda tx: (tx.unmatched.open(), tx.unmatched.dismissed())
    )
    integrations = request.app[INTEGRATIONS]
    context: dict[str, object] = {
        "payments": [(p, crm_link(integrations, p.connection, p.crm_ref)) for p in open_payments],
        "dismissed": [(p, crm_link(integrations, p.connection, p.crm_ref)) for p in dismissed],
        "longest_reason": LONGEST_REASON,
        "error": error,
        "found": found,
        "shown": CANDIDATES,
    }
    return aiohttp_jinja2.render_template("payments.html", request, context, status=status)


async def unmatched(request: web.Request) -> web.Response:
    return await page(request)


async def find_lead(request: web.Request) -> web.Response:
    """The page again, with the leads a search (`q`) finds for one payment, each with a
    button that attaches the payment to it."""
    payment_id = row_id(request, "payment_id", "payment")
    typed = request.query.get("q", "")
    try:
        where = read_filter(request, {"q": typed})
    except InvalidField as error:
        said = "; ".join(
            f"{field}: {need}" for field, need in invalid_fields(words(request), error)
        )
        return await page(request, said, status=422)
    if where.search is None:  # an empty box: nothing asked
        return await page(request)

    def read(tx: Tx) -> tuple[list[Lead], int]:
        return tx.leads.page(where, CANDIDATES), tx.leads.count(where)

    leads, total = await request.app[appkeys.STORE].read(read)
    found = Found(payment_id, where.search.typed, [masked(lead) for lead in leads], total)
    return await page(request, found=found)


async def attach(request: web.Request) -> web.StreamResponse:
    form = await auth.check_csrf(request)
    payment_id = row_id(request, "payment_id", "payment")
    lead_id = str(form.get("lead_id", "")).strip()
    user = str((await get_session(request)).get("user", "?"))
    t = words(request)
    store = request.app[appkeys.STORE]
    try:
        await audit.write(
            request,
            lambda tx: PaymentService.attach(tx, payment_id, lead_id, user),
            audit.entry(request, Action.ATTACH_PAYMENT, lead_id, {"payment": str(payment_id)}),
        )
    except LeadNotFound as error:  # a person typed it: the page again, with why
        return await page(request, t("lead_not_found", lead=lead_id), status=error.status)
    except Conflict as error:
        said = "pay_already_attached"
        if ALREADY_PAID in error.message:
            said = "pay_lead_paid"
        elif DISMISSED in error.message:
            said = "pay_dismissed"
        return await page(request, t(said, lead=lead_id), status=error.status)
    lead, payment = await store.read(
        lambda tx: (tx.leads.get(lead_id), tx.unmatched.get(payment_id))
    )
    amount = t.money(payment.amount, payment.currency) if payment else ""
    await flash(request, t("flash_attached", amount=amount, lead=lead.name or lead.id))
    raise web.HTTPFound(str(request.app.router["payments"].url_for()))


async def dismiss(request: web.Request) -> web.StreamResponse:
    """A person's "not ours" on an open payment, with why: it leaves the open ones (and the
    connection's cap) and is listed as dismissed."""
    form = await auth.check_csrf(request)
    payment_id = row_id(request, "payment_id", "payment")
    reason = str(form.get("reason", "")).strip()
    t = words(request)
    if not reason:
        return await page(request, t("dismiss_reason_missing"), status=422)
    if len(reason) > LONGEST_REASON:
        return await page(request, t("dismiss_reason_long", longest=LONGEST_REASON), status=422)
    payment = await _payment(request, payment_id)
    said = audit.entry(
        request, Action.DISMISS_PAYMENT, str(payment_id), {**_about(payment), "reason": reason}
    )
    done = await audit.write(
        request, lambda tx: tx.unmatched.dismiss(payment_id, reason), said, if_done=True
    )
    return await _done(request, payment, "flash_dismissed" if done else "flash_not_open")


async def reopen(request: web.Request) -> web.StreamResponse:
    """Bring a dismissed payment back to the open ones (to attach, or to count again)."""
    await auth.check_csrf(request)
    payment_id = row_id(request, "payment_id", "payment")
    payment = await _payment(request, payment_id)
    said = audit.entry(request, Action.REOPEN_PAYMENT, str(payment_id), _about(payment))
    done = await audit.write(
        request, lambda tx: tx.unmatched.reopen(payment_id), said, if_done=True
    )
    return await _done(request, payment, "flash_reopened" if done else "flash_not_dismissed")


async def _payment(request: web.Request, payment_id: int) -> UnmatchedPayment:
    payment = await request.app[appkeys.STORE].read(lambda tx: tx.unmatched.get(payment_id))
    if payment is None:
        raise NotFound(f"no such payment: {payment_id}")
    return payment


def _about(payment: UnmatchedPayment) -> dict[str, str]:
    """What the audit log keeps of the payment acted on."""
    return {
        "connection": payment.connection,
        "crm_ref": payment.crm_ref,
        "amount": f"{payment.amount} {payment.currency}",
    }


async def _done(request: web.Request, payment: UnmatchedPayment, said: str) -> web.StreamResponse:
    """Say what was done (or that it had been done already), back on the page."""
    t = words(request)
    ref = f"{payment.connection} · {payment.crm_ref}"
    await flash(request, t(said, amount=t.money(payment.amount, payment.currency), ref=ref))
    raise web.HTTPFound(str(request.app.router["payments"].url_for()))
