"""Tx: what a unit of work (or a read) is given: the store's verbs over one transaction."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from common.model import Event
from common.store.acknowledged import AcknowledgedProblems
from common.store.alerts import AlertStates
from common.store.audit import AuditRows
from common.store.checks import PaymentChecks
from common.store.costs import CostRows
from common.store.credentials import CrmCredentials
from common.store.cursors import Cursors
from common.store.erasure import Erasures
from common.store.events import EventStore
from common.store.idempotency import IdempotencyKeys
from common.store.leads import LeadRows
from common.store.projections import project
from common.store.rates import RateBuckets
from common.store.receipts import Receipts
from common.store.sessions import DashboardSessions
from common.store.sql import Sql
from common.store.stats import Stats
from common.store.tasks import TaskQueue
from common.store.unmatched import UnmatchedPayments
from common.store.users import DashboardUsers
from common.store.utm import UtmRows
from common.store.zone import RecordedZone


class Tx:
    """One transaction: in `Store.write` it may change things; in `Store.read` it only reads."""

    def __init__(self, sql: Sql, is_conflict: type[Exception], max_attempts: int, zone: ZoneInfo):
        self.sql = sql
        self.zone = zone  # whose days daily_stats and the date filters count in
        self.events = EventStore(sql, is_conflict)
        self.leads = LeadRows(sql, zone)
        self.tasks = TaskQueue(sql, max_attempts)
        self.stats = Stats(sql)
        self.idempotency = IdempotencyKeys(sql)
        self.receipts = Receipts(sql)
        self.unmatched = UnmatchedPayments(sql)
        self.cursors = Cursors(sql)
        self.sessions = DashboardSessions(sql)
        self.users = DashboardUsers(sql)
        self.rates = RateBuckets(sql)
        self.credentials = CrmCredentials(sql)
        self.payment_checks = PaymentChecks(sql)
        self.recorded_zone = RecordedZone(sql)
        self.costs = CostRows(sql)
        self.utm = UtmRows(sql)
        self.audit = AuditRows(sql)
        self.acknowledged = AcknowledgedProblems(sql)
        self.erasure = Erasures(sql)
        self.alerts = AlertStates(sql)

    def project(self, event: Event, campaign: str | None = None) -> None:
        """Apply an event to the projections (leads, campaign and daily counters, costs);
        `campaign`: its lead's, if known (see `project`)."""
        project(self.sql, event, self.zone, campaign)
