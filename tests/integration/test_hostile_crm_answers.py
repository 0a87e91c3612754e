"""What a CRM answers is input too: a hostile or broken answer to reconciliation's reads is
a failed round, never a reversal or a payment."""

import aiohttp
import pytest

from common.config import Settings
from common.integrations.base import DeliveryFailure
from common.integrations.registry import build_integrations
from services.dispatcher.recheck import recheck_payments
from services.dispatcher.reconcile import DealReconciliation
from tests.emulators import amocrm
from tests.emulators.faults import start
from tests.helpers import ago, crm_connections, rows
from tests.integration.test_payment_changes import revenue
from tests.integration.test_payment_recheck import WON, paid_lead

# 200 answers to GET /api/v4/leads that hold no list of leads: a price no double holds (JSON
# parsers refuse 1e309), an HTML page (a proxy's or a maintenance page), other shapes.
JUNK = {
    "a price of 1e309": '{"_embedded": {"leads": [{"id": 1, "status_id": 142, "price": 1e309}]}}',
    "an HTML page": "<html><body>Технические работы</body></html>",
    "leads not a list": '{"_embedded": {"leads": {"id": 1}}}',
    "no _embedded": '{"_page": 1, "_links": {}}',
    "a JSON array": "[]",
}


@pytest.mark.parametrize("answer", list(JUNK.values()), ids=list(JUNK))
async def test_an_amocrm_answer_without_leads_reverses_nothing_and_reads_no_window(store, answer):
    """Read as "no leads", such an answer had every payment re-checked taken for deleted
    and reversed, and the window taken for read."""
    amo = amocrm.AmoCrm("amo-secret")
    runner, url = await start(amocrm.create_app(amo))
    long_ago = int(ago(days=2).timestamp())
    for n in (1, 2, 3):
        await paid_lead(store, "amo", str(n), 100, None)
        amo.set_lead(n, WON, 100, long_ago, closed_at=long_ago)
    amo.list_text = answer
    try:
        crms = build_integrations(Settings(crm=crm_connections(base_url=url)))
        async with aiohttp.ClientSession() as http:
            with pytest.raises(DeliveryFailure) as recheck_failed:
                await recheck_payments(store, crms["amo"], http)
            with pytest.raises(DeliveryFailure) as round_failed:
                await DealReconciliation(store, crms["amo"], http).once()
    finally:
        await runner.cleanup()
    for failed in (recheck_failed, round_failed):
        assert "without a list of leads" in failed.value.message
    assert revenue(store)[0] == 3  # every payment still held
    assert rows(store.location, "SELECT * FROM events WHERE type = 'PAYMENT_REVERSED'") == []
    reading = await store.read(lambda tx: tx.cursors.get("amo"))
    assert reading.since is None  # the window is read again next round
