"""A lead's page for a person: who it is and how to reach them, where it came from, what
happened to it in sentences, the way into the CRM, and "send again" for a lead the CRM never
got; the technical view (fields, stored events, stored vs rebuilt) under a disclosure."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
import phonenumbers
from aiohttp import web
from aiohttp_session import get_session

from common import appkeys
from common.audit import Action
from common.model import LEAD_COLUMNS, Event, Lead, LeadStatus, Task, TaskStatus, TaskType
from common.store import Tx
from common.tasks import SendToCrm
from services.dashboard import audit, auth
from services.dashboard.connections import crm_link
from services.dashboard.i18n import Words
from services.dashboard.keys import INTEGRATIONS, REPLAYER
from services.dashboard.pages import flash, words
from services.dashboard.timeline import crm_label, history

log = logging.getLogger(__name__)

# utm_source values people use for the big sources, and the catalogue's word for each.
SOURCES = {
    "yandex": "src_yandex",
    "ya": "src_yandex",
    "yandex.direct": "src_yandex",
    "google": "src_google",
    "vk": "src_vk",
    "vkontakte": "src_vk",
    "telegram": "src_telegram",
    "tg": "src_telegram",
}
MEDIUMS = {"cpc": "medium_cpc", "ppc": "medium_cpc", "organic": "medium_organic"}
MEDIUMS |= {"email": "medium_email", "social": "medium_social", "smm": "medium_social"}
CUT = re.compile(r"^cut to (\d+) characters")


@dataclass(frozen=True)
class Shown:
    """A warning as the card shows it: the field in words, what was wrong in words, what
    was sent."""

    field: str
    reason: str
    value: str


@aiohttp_jinja2.template("lead.html")
async def page(request: web.Request) -> dict[str, object]:
    lead_id = request.match_info["lead_id"]

    def read(tx: Tx) -> tuple[Lead, list[Event], list[Task]]:
        return tx.leads.get(lead_id), tx.events.read_stream(lead_id), tx.tasks.open_of_lead(lead_id)

    stored, events, tasks = await request.app[appkeys.STORE].read(read)
    rebuilt = await request.app[REPLAYER].lead(events)
    t = words(request)
    integrations = request.app[INTEGRATIONS]
    kinds = {name: c.kind for name, c in request.app[appkeys.SETTINGS].crm.items()}
    kind = kinds.get(stored.crm_connection or "")
    delivery = next((task for task in tasks if task.type == TaskType.SEND_TO_CRM), None)
    return {
        "lead": stored,
        "title": stored.name or _phone(stored.phone) or stored.email or t("unnamed"),
        "phone": _phone(stored.phone),
        "phone_href": f"tel:{stored.phone}" if stored.phone else None,
        "email_href": f"mailto:{quote(stored.email, safe='@.+')}" if stored.email else None,
        "status": t.name("status", stored.status),
        "source": source_words(stored, t),
        "page_host": _host(stored.page_url),
        "history": history(events, t, kinds),
        "answers": sorted(stored.extra.items()),
        "warnings": [warning_words(w, t) for w in stored.warnings],
        "crm": crm_label(t, kind, stored.crm_connection) if stored.crm_connection else None,
        "crm_href": crm_link(integrations, stored.crm_connection, stored.crm_lead_id),
        "payment_href": _payment_link(request, stored),
        "send_again": stored.status == LeadStatus.CRM_FAILED and _failed(delivery),
        "queued_at": delivery.run_after if delivery and _queued(delivery) else None,
        "rebuilt": rebuilt.as_dict() if rebuilt else {},
        "stored": stored.as_dict(),
        "agree": rebuilt == stored,
        "fields": LEAD_COLUMNS,
    }


def _failed(task: Task | None) -> bool:
    return task is None or task.status == TaskStatus.FAILED


def _queued(task: Task | None) -> bool:
    return task is not None and task.status == TaskStatus.PENDING


def _payment_link(request: web.Request, lead: Lead) -> str | None:
    if not lead.payment_deal_id:
        return None
    ref = f"deal:{lead.payment_deal_id}"
    return crm_link(request.app[INTEGRATIONS], lead.crm_connection, ref)


def _phone(phone: str | None) -> str | None:
    """An E.164 number grouped as people write it (+7 916 123-45-67)."""
    if not phone:
        return None
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return phone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _host(url: str | None) -> str | None:
    try:
        return urlsplit(url).hostname if url else None
    except ValueError:
        return None


def source_words(lead: Lead, t: Words) -> str:
    """Where the lead came from, in words: a Direct ad (a yclid), its UTM source and medium
    (the big ones named), the site it came from, or none of these."""
    if lead.yclid:
        return t("source_direct_ad")
    if lead.utm_source:
        source = lead.utm_source.strip().lower()
        said = [t(SOURCES[source]) if source in SOURCES else lead.utm_source]
        if lead.utm_medium:
            medium = lead.utm_medium.strip().lower()
            said.append(t(MEDIUMS[medium]) if medium in MEDIUMS else lead.utm_medium)
        return " · ".join(said)
    if host := _host(lead.referrer):
        return t("source_referrer", host=host)
    return t("source_none")


def warning_words(warning: dict[str, str], t: Words) -> Shown:
    """A field the lead was accepted without (services/ingest/parsing.py wrote why, in
    English, as pydantic or the parser said it), in the reader's language."""
    field, reason = warning.get("field", ""), warning.get("reason", "")
    if cut := CUT.match(reason):
        said = t("warn_cut", count=int(cut[1]))
    elif field == "phone":
        said = t("warn_phone")
    elif field == "email":
        said = t("warn_email")
    elif "pattern" in reason:
        said = t("warn_pattern")
    elif reason == "must be a string":
        said = t("warn_not_text")
    elif "not a URL" in reason:
        said = t("warn_url")
    elif "at most" in reason:
        said = t("warn_too_long")
    else:
        said = t("warn_other")
    return Shown(t.name("field", field), said, warning.get("value", ""))


def requeue_delivery(tx: Tx, lead_id: str) -> int:
    """Send a lead the CRM never got once more: its failed delivery task queued again with
    fresh attempts (or a new one, if it has none open); 0 when it is queued already or was
    not failed. A unit of work."""
    lead = tx.leads.get(lead_id)
    deliveries = [t for t in tx.tasks.open_of_lead(lead_id) if t.type == TaskType.SEND_TO_CRM]
    failed = [task.id for task in deliveries if task.status == TaskStatus.FAILED]
    if failed:
        return tx.tasks.retry_failed(failed)
    if not deliveries and lead.status == LeadStatus.CRM_FAILED:
        tx.tasks.enqueue(SendToCrm(), lead_id=lead_id)
        return 1
    return 0


async def send_again(request: web.Request) -> web.StreamResponse:
    await auth.check_csrf(request)
    lead_id = request.match_info["lead_id"]
    said = audit.entry(request, Action.RETRY, lead_id, {"what": "send_again"})
    queued = await audit.write(
        request, lambda tx: requeue_delivery(tx, lead_id), said, if_done=True
    )
    user = (await get_session(request)).get("user")
    log.info("send again", extra={"lead_id": lead_id, "queued": queued, "user": user})
    t = words(request)
    await flash(request, t("flash_sent_again") if queued else t("nothing_to_send"))
    raise web.HTTPFound(str(request.app.router["lead"].url_for(lead_id=lead_id)))
