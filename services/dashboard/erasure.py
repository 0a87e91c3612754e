"""Erasing a lead's personal data from its page (an admin's action): a confirmation page on
which the admin types a word and may give a reason, then the erasure (common.erasure), then
the lead's page again with a message saying what happened."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from common import appkeys
from common.erasure import Request, erase
from services.dashboard import auth
from services.dashboard.i18n import CATALOGUE
from services.dashboard.pages import flash, words

REASON_LIMIT = 500  # characters of the reason kept


async def confirm_page(request: web.Request, error: str | None = None) -> web.Response:
    lead_id = request.match_info["lead_id"]
    lead = await request.app[appkeys.STORE].read(lambda tx: tx.leads.get(lead_id))  # or 404
    context = {"lead": lead, "error": error, "word": words(request)("erase_word")}
    return aiohttp_jinja2.render_template(
        "erase.html", request, context, status=422 if error else 200
    )


def confirmed(typed: str) -> bool:
    """The confirmation word, in either language, whatever its case or spaces."""
    return typed.strip().casefold() in {str(t["erase_word"]) for t in CATALOGUE.values()}


async def erase_lead(request: web.Request) -> web.StreamResponse:
    form = await auth.check_csrf(request)
    lead_id = request.match_info["lead_id"]
    t = words(request)
    if not confirmed(form.get("confirm", "")):
        return await confirm_page(request, t("erase_mistyped"))
    store, settings = request.app[appkeys.STORE], request.app[appkeys.SETTINGS]
    await store.read(lambda tx: tx.leads.get(lead_id))  # a 404 for no such lead
    user = str((await get_session(request)).get("user", "?"))
    reason = form.get("reason", "").strip()[:REASON_LIMIT]
    asked = Request(user, reason, request.remote or "", rewrite=settings.privacy.vacuum_full)
    outcome = await erase(store, [lead_id], asked)
    if not outcome.erased:
        await flash(request, t("flash_erased_before"))
    else:
        await flash(request, t("flash_erased" if outcome.traces_gone else "flash_erased_wal"))
    raise web.HTTPFound(str(request.app.router["lead"].url_for(lead_id=lead_id)))
