"""LeadService: a lead's events, written with their projection (and its first task)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from uuid6 import uuid7

from common import clock
from common.errors import LeadNotFound
from common.model import Event, EventType, TaskType
from common.store import Tx


class LeadService:
    """Units of work run inside `Store.write`; each is one transaction with its caller's."""

    @staticmethod
    def create_lead(tx: Tx, data: dict[str, Any], metadata: dict[str, Any]) -> tuple[str, int]:
        """LEAD_CREATED, its row and counters, and the send_to_crm task."""
        # UUIDv7 ids grow with time, so each new lead lands at the end of every index keyed
        # by it (leads, events, tasks) instead of on a random page of an ever larger tree.
        lead_id = str(uuid7())
        event = tx.events.append(lead_id, 0, EventType.LEAD_CREATED, data, metadata)
        tx.project(event)
        task_id = tx.tasks.enqueue(TaskType.SEND_TO_CRM, {"lead_id": lead_id}, lead_id=lead_id)
        return lead_id, task_id

    @staticmethod
    def create_or_repeat(
        tx: Tx, data: dict[str, Any], metadata: dict[str, Any], window_minutes: int
    ) -> tuple[str, int | None]:
        """A new lead, unless the same phone or email came for the same campaign within the
        window: then the submission is a LEAD_REPEATED event on that first lead (shown on its
        timeline) and no second CRM deal is made; the task id is None."""
        if window_minutes:
            since = clock.iso(clock.now() - timedelta(minutes=window_minutes))
            first = tx.leads.recent_with_contact(
                data["campaign_id"], data.get("phone"), data.get("email"), since
            )
            if first is not None:
                LeadService.record(tx, first, EventType.LEAD_REPEATED, data, metadata)
                return first, None
        return LeadService.create_lead(tx, data, metadata)

    @staticmethod
    def record(
        tx: Tx,
        lead_id: str,
        type: EventType,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> Event:
        """Append an event to an existing lead and project it."""
        version = tx.leads.version(lead_id)
        if version is None:
            raise LeadNotFound(f"lead {lead_id} does not exist")
        event = tx.events.append(lead_id, version, type, data, metadata)
        tx.project(event)
        return event
