"""Writing a task's outcome: only its current holder may."""

from datetime import timedelta

from common import clock
from common.config import DispatcherSettings
from common.events import EventType
from common.leads import LeadService
from common.tasks import TaskQueue
from services.dispatcher.outcomes import Done, apply_outcome
from tests.helpers import rows

SENT = Done(EventType.LEAD_SENT_TO_CRM, {"connection": "amo", "crm_lead_id": "1"})


async def test_a_stale_holder_changes_nothing(db):
    queue = TaskQueue(db)
    leads = LeadService(db, queue)
    lead_id, _ = await db.transaction(lambda tx: leads.create_lead(tx, {"campaign_id": "c"}, {}))
    [slow] = await queue.claim_due(limit=1, lease=60)
    past = clock.iso(clock.now() - timedelta(seconds=1))
    await db.transaction(lambda tx: tx.execute("UPDATE tasks SET locked_until = ?", (past,)))
    [fast] = await queue.claim_due(limit=1, lease=60)  # the lease ran out; another took it
    settings = DispatcherSettings()

    assert await db.transaction(lambda tx: apply_outcome(tx, fast, lead_id, SENT, settings)) == (
        "completed"
    )
    assert await db.transaction(lambda tx: apply_outcome(tx, slow, lead_id, SENT, settings)) == (
        "stale"
    )
    sent = rows(db.path, "SELECT * FROM events WHERE type = 'LEAD_SENT_TO_CRM'")
    assert len(sent) == 1
    [stats] = rows(db.path, "SELECT leads_delivered FROM campaign_stats")
    assert stats["leads_delivered"] == 1  # counted once, however many deliveries
