"""POST /api/v1/webhooks/crm/{crm_id}: a CRM reports a won or lost deal."""

from __future__ import annotations

import logging

from aiohttp import web

from common import appkeys, deals
from common.errors import InvalidField, NotFound, Unauthorized
from common.integrations.base import CrmIntegration, DeliveryFailure, WebhookRequest
from common.model import Metadata, Notice
from common.payments import Answer, PaymentService
from common.web import in_body_time, request_id
from services.webhooks.keys import HANDLED, INTEGRATIONS
from services.webhooks.unmatched import unmatched_room

log = logging.getLogger(__name__)


async def crm_webhook(request: web.Request) -> web.Response:
    crm_id = request.match_info["crm_id"]
    integration = request.app[INTEGRATIONS].get(crm_id)
    if integration is None:
        raise NotFound(f"no CRM connection named {crm_id!r}")
    raw = await in_body_time(request, request.read())
    hook = WebhookRequest(request.query, request.headers, raw)
    try:
        message_id = integration.authenticate(hook)
    except Unauthorized as error:
        log.warning("webhook refused", extra={"connection": crm_id, "reason": error.message})
        raise
    notices = integration.parse_webhook(hook)
    kept = integration.storable(hook)
    metadata = {"request_id": request_id(request), "source": f"webhook:{crm_id}"}
    if notices and notices[0].outcome == "deal":  # it names a deal only: read the deal
        answer = await _deal_notice(request, integration, notices[0], kept, metadata)
    else:
        cap = request.app[appkeys.SETTINGS].webhooks.max_unmatched_per_connection
        answer = await request.app[appkeys.STORE].write(
            lambda tx: PaymentService.record_webhook(
                tx, integration.name, message_id, kept, notices, metadata, cap
            )
        )
        unmatched_room(request.app, crm_id, answer, cap)
    request.app[HANDLED].labels(crm_id, answer.get("status", "ok")).inc()
    log.info("webhook handled", extra={"connection": crm_id, "answer": loggable(answer)})
    return web.json_response(answer)


def loggable(answer: Answer) -> Answer:
    """The answer without its reasons: they quote what the sender wrote (a generic CRM's
    crm_lead_id or type, a Bitrix24 event name), which may be a phone or an e-mail, and a
    log line keeps personal data masked. The CRM still gets them; statuses and ids stay."""
    kept: Answer = {key: value for key, value in answer.items() if key != "reason"}
    results = answer.get("results")
    if isinstance(results, list):
        kept["results"] = [loggable(item) if isinstance(item, dict) else item for item in results]
    return kept


async def _deal_notice(
    request: web.Request,
    integration: CrmIntegration,
    notice: Notice,
    body: bytes,
    metadata: Metadata,
) -> Answer:
    """Store the notice durably, then try to resolve it now."""
    store, deal_id, name = request.app[appkeys.STORE], str(notice.deal_id), integration.name
    task_id, payload = await store.write(lambda tx: deals.store_notice(tx, name, deal_id, body))
    try:
        return await deals.resolve(
            store, integration, request.app[appkeys.HTTP], task_id, payload, metadata
        )
    except InvalidField as error:
        reason = error.message
        await store.write(lambda tx: deals.reject(tx, task_id, payload.receipt_id, reason))
        raise
    except DeliveryFailure as failure:
        log.warning(
            "crm.deal.get failed; queued", extra={"task_id": task_id, "reason": failure.message}
        )
        return {"status": "queued", "task_id": task_id, "reason": failure.message}
