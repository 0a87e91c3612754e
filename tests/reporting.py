"""What the cost and report tests share: leads placed at chosen moments, Direct's figures, and
the report's period worked out by hand (dates from the clock, never fixed)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from common import clock
from common.costs import CostService
from common.events import LeadLost, LeadSentToCrm, PaymentRegistered
from common.leads import LeadService
from common.model import CostRow, NewLead
from common.store.replay import rebuild
from tests.helpers import execute, stored

ZONE = ZoneInfo("Europe/Moscow")  # dashboard.timezone's default


def today() -> date:
    """Today in the business's zone."""
    return clock.now().astimezone(ZONE).date()


def local(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """A moment of a local day (noon unless told): far from midnight in UTC and locally."""
    return datetime.combine(day, time(hour, minute), ZONE)


def bounds(first: date, last: date) -> tuple[str, str]:
    """[since, until) of local days, as stored UTC text."""
    since = datetime.combine(first, time(), ZONE)
    return stored(since), stored(datetime.combine(last + timedelta(days=1), time(), ZONE))


class Leads:
    """Leads created at chosen moments: each LEAD_CREATED's time is set in the log and the
    projections are rebuilt from it (`settle`), as if the lead had come then."""

    def __init__(self, store):
        self.store = store
        self.moments: dict[str, datetime] = {}

    async def add(
        self,
        campaign: str,
        at: datetime,
        utm: str | None = None,
        pay: str | None = None,
        currency: str = "RUB",
        paid: datetime | None = None,
        lost: bool = False,
        tags: dict[str, str] | None = None,  # other UTM fields (utm_source=…)
    ) -> str:
        lead = NewLead(campaign_id=campaign, phone="+79161234567", utm_campaign=utm, **tags or {})
        lead_id, _ = await self.store.write(lambda tx: LeadService.create_lead(tx, lead))
        self.moments[lead_id] = at
        events = [LeadSentToCrm("amo", crm_lead_id=lead_id[-6:])]
        if pay is not None:
            events.append(PaymentRegistered(Decimal(pay), currency, stored(paid or at)))
        if lost:
            events.append(LeadLost("amo"))
        for event in events:
            await self.store.write(lambda tx, e=event: LeadService.record(tx, lead_id, e))
        return lead_id

    async def settle(self) -> None:
        for lead_id, at in self.moments.items():
            execute(
                self.store.location,
                "UPDATE events SET created_at = ? WHERE stream_id = ? AND version = 1",
                (stored(at), lead_id),
            )
        await rebuild(self.store)


def cost(
    day: date, direct_id: str, amount: str, name: str = "", clicks: int = 10, shows: int = 100
) -> CostRow:
    return CostRow(day, direct_id, name or f"Direct {direct_id}", shows, clicks, Decimal(amount))


async def record(store, *rows: CostRow, currency: str = "RUB") -> int:
    return await store.write(lambda tx: CostService.record(tx, rows, currency))
