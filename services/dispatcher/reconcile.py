"""Reconciliation: the won and lost deals a CRM's webhooks did not bring.

Bitrix24 sends an outgoing webhook once and never again, and any webhook can be lost
while we are down, slow or behind a broken proxy. Every `reconcile_every` seconds this
asks the CRM for what closed since the last look (Bitrix24 crm.deal.list by DATE_MODIFY,
amoCRM leads by updated_at) and applies each with the same paid-once rules as a webhook;
the cursor moves in the same transaction, so a restart resumes where it was.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import aiohttp

from common import clock
from common.errors import InvalidField
from common.integrations.base import CrmIntegration, DeliveryFailure
from common.model import Notice
from common.payments import PaymentService
from common.store import Store, Tx

log = logging.getLogger(__name__)
FIRST_LOOK_BACK = timedelta(days=1)  # with no cursor yet: the day before the first look


class DealReconciliation:
    def __init__(self, store: Store, integration: CrmIntegration, http: aiohttp.ClientSession):
        self.store = store
        self.integration = integration
        self.http = http

    async def run(self, every: float) -> None:
        while True:
            try:
                applied = await self.once()
                if applied:
                    log.info(
                        "reconciled deals",
                        extra={"connection": self.integration.name, "answers": applied},
                    )
            except DeliveryFailure as failure:
                log.warning(
                    "reconciliation failed; will try again",
                    extra={"connection": self.integration.name, "reason": failure.message},
                )
            except Exception:
                log.exception("reconciliation error; will try again")
            await asyncio.sleep(every)  # the reconciliation interval

    async def once(self) -> list[str]:
        """Look once; the status of each deal's answer (ok, duplicate, unmatched, …)."""
        name = self.integration.name
        since = await self.store.read(lambda tx: tx.cursors.get(name))
        first_look = clock.now() - FIRST_LOOK_BACK
        deals, cursor = await self.integration.closed_since(self.http, since, first_look)
        if not deals:
            return []
        notices: list[Notice] = []
        for deal in deals:
            try:
                notices.append(self.integration.notice_of(deal))
            except InvalidField as error:
                log.warning(
                    "unusable deal skipped", extra={"deal": deal.get("ID"), "reason": error.message}
                )
        metadata = {"source": f"reconcile:{name}"}

        def unit(tx: Tx) -> list[str]:
            answers = [PaymentService.apply(tx, name, notice, metadata) for notice in notices]
            tx.cursors.set(name, cursor)
            return [str(answer.get("status")) for answer in answers]

        return await self.store.write(unit)
