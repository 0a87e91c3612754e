"""The payments we hold, asked about again: a batch of paid leads read from the CRM by id.

The window of reconciliation lists deals won or lost lately; a paid deal reopened, deleted or
repriced while its webhook was lost is never in it. So each round also asks the CRM, in one
request, about the RECHECK_BATCH paid leads of the connection asked about longest ago, and
applies what changed through the payment rule (a correction, a reversal) in one write.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import partial

import aiohttp

from common.integrations.base import CrmIntegration
from common.model import Lead
from common.payments import PaymentService
from common.reconciling import Recheck
from common.store import Store, Tx

log = logging.getLogger(__name__)
RECHECK_BATCH = 50  # leads asked about per round: one request (a Bitrix24 page) and one write


async def recheck_payments(
    store: Store, integration: CrmIntegration, http: aiohttp.ClientSession
) -> list[str]:
    """Ask the CRM about the paid leads asked about longest ago; the status of each change
    (corrected, reversed, amount_set), nothing for a payment the CRM still says."""
    name = integration.name
    leads = await store.read(lambda tx: tx.payment_checks.due(name, RECHECK_BATCH))
    refs = {lead.id: ref for lead in leads if (ref := integration.payment_ref(lead))}
    answer = Recheck({})
    if refs:
        answer = await integration.payments_now(http, sorted(set(refs.values())))
    if answer.skipped:
        log.warning(
            "unreadable deals skipped", extra={"connection": name, "skipped": answer.skipped}
        )
    if not leads:
        return []
    unit = partial(_unit, connection=name, leads=leads, refs=refs, answer=answer)
    statuses = await store.write(unit)
    return [status for status in statuses if status != "duplicate"]


def _unit(
    tx: Tx, connection: str, leads: list[Lead], refs: dict[str, str], answer: Recheck
) -> list[str]:
    metadata = {"source": f"recheck:{connection}"}
    statuses: list[str] = []
    checked: list[str] = []
    for lead in leads:
        now = tx.leads.find(lead.id)
        if now is None or now.version != lead.version:
            continue  # news came while we asked: ask again next round rather than undo it
        checked.append(lead.id)
        notice = answer.notices.get(refs.get(lead.id, ""))
        found = PaymentService.find_lead(tx, connection, notice) if notice else None
        if notice is not None and found is not None and found.id == lead.id:
            statuses.append(str(PaymentService.apply(tx, connection, notice, metadata)["status"]))
    tx.payment_checks.checked(checked)
    if answer.skipped:
        reading = tx.cursors.get(connection)
        tx.cursors.set(connection, replace(reading, skipped=reading.skipped + answer.skipped))
    return statuses
