"""POST /api/v1/webhooks/crm/{crm_id}: a CRM reports a won or lost deal."""

from __future__ import annotations

import logging
from typing import Any

import aiosqlite
from aiohttp import web

from common import appkeys, deals
from common.errors import InvalidField, NotFound, Unauthorized
from common.integrations.base import CrmIntegration, DeliveryFailure, WebhookRequest
from common.integrations.bitrix24 import Bitrix24Integration
from common.payments import Notice, keep_receipt, seen_message, update_receipt
from common.tasks import TaskQueue
from common.web import request_id
from services.webhooks.keys import HANDLED, INTEGRATIONS, PAYMENTS

log = logging.getLogger(__name__)


async def crm_webhook(request: web.Request) -> web.Response:
    crm_id = request.match_info["crm_id"]
    integration = request.app[INTEGRATIONS].get(crm_id)
    if integration is None:
        raise NotFound(f"no CRM connection named {crm_id!r}")
    hook = WebhookRequest(request.query, request.headers, await request.read())
    try:
        message_id = integration.authenticate(hook)
    except Unauthorized as error:
        log.warning("webhook refused", extra={"connection": crm_id, "reason": error.message})
        raise
    notices = integration.parse_webhook(hook)
    metadata = {"request_id": request_id(request), "source": f"webhook:{crm_id}"}
    if notices and notices[0].outcome == "deal":
        assert isinstance(integration, Bitrix24Integration)
        answer = await _deal_notice(request, integration, notices[0], hook.body, metadata)
    else:
        answer = await _notices(request, integration, notices, message_id, hook.body, metadata)
    request.app[HANDLED].labels(crm_id, answer.get("status", "ok")).inc()
    log.info("webhook handled", extra={"connection": crm_id, "answer": answer})
    return web.json_response(answer)


async def _notices(
    request: web.Request,
    integration: CrmIntegration,
    notices: list[Notice],
    message_id: str | None,
    body: bytes,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """Every notice of one webhook, its receipt and dedup check, in one transaction."""
    payments = request.app[PAYMENTS]

    async def unit(tx: aiosqlite.Connection) -> dict[str, Any]:
        if message_id and await seen_message(tx, integration.name, message_id):
            return {"status": "duplicate", "reason": f"webhook-id {message_id} already handled"}
        answers = [await payments.apply(tx, integration.name, n, metadata) for n in notices]
        answer = answers[0] if len(answers) == 1 else {"status": "ok", "results": answers}
        await keep_receipt(tx, integration.name, message_id, body, answer)
        return answer

    return await request.app[appkeys.DB].transaction(unit)


async def _deal_notice(
    request: web.Request,
    integration: Bitrix24Integration,
    notice: Notice,
    body: bytes,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """Store the notice durably, then try to resolve it now."""
    app = request.app
    db, deal_id = app[appkeys.DB], str(notice.deal_id)
    task_id, receipt_id = await deals.store_notice(
        db, app[appkeys.TASKS], integration.name, deal_id, body
    )
    payload = {"connection": integration.name, "deal_id": deal_id, "receipt_id": receipt_id}
    try:
        return await deals.resolve(
            db, app[PAYMENTS], integration, app[appkeys.HTTP], task_id, payload, metadata
        )
    except InvalidField as error:
        reason = error.message
        await db.transaction(lambda tx: _reject(tx, task_id, receipt_id, reason))
        raise
    except DeliveryFailure as failure:
        log.warning(
            "crm.deal.get failed; queued", extra={"task_id": task_id, "reason": failure.message}
        )
        return {"status": "queued", "task_id": task_id, "reason": failure.message}


async def _reject(tx: aiosqlite.Connection, task_id: int, receipt_id: int, reason: str) -> None:
    await TaskQueue.fail(tx, task_id, reason)
    await update_receipt(tx, receipt_id, {"status": "rejected", "reason": reason})
