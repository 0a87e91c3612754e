"""LeadService: a lead's events, written with their projection (and its first task)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from uuid6 import uuid7

from common import clock
from common.config import IngestSettings
from common.errors import LeadNotFound
from common.events import LeadCreated, LeadEvent, LeadMergedInCrm, LeadRepeated, LeadSentToCrm
from common.model import Event, Json, JsonObject, LeadStatus, Metadata, NewLead, campaign_key
from common.store import Tx
from common.store.base import Later, ReadsAhead
from common.tasks import SendToCrm


@dataclass(frozen=True)
class Submission:
    """One form submission as ingest read it from its request."""

    lead: NewLead
    metadata: Metadata = field(default_factory=dict)
    key: str | None = None  # the Idempotency-Key, or Tilda's own
    fingerprint: str = ""  # what a retry under the same key must send again


@dataclass(frozen=True)
class Accepted(Later):
    """What a submission became: the answer for the landing page, and whether it is the
    first answer given again to a retry. The new task's id comes into the answer with the
    batch's last wait (`Later`), not with a wait of this lead's own."""

    answer: JsonObject
    replayed: bool = False
    task_id: Callable[[], int] | None = None

    @property
    def repeat(self) -> bool:
        return self.answer.get("status") == "repeat"

    def read_answers(self) -> None:
        if self.task_id is not None:
            self.answer["task_id"] = self.task_id()


def repeat_since(lead: NewLead, rules: IngestSettings) -> str | None:
    """When the repeat window of this lead's campaign opened (None: its campaign is not
    checked for repeats)."""
    if not rules.repeat_window_minutes:
        return None
    if rules.repeat_check_off and campaign_key(lead.campaign_id) in _keys(
        tuple(rules.repeat_check_off)
    ):
        return None
    return clock.iso(clock.now() - timedelta(minutes=rules.repeat_window_minutes))


@lru_cache(maxsize=8)
def _keys(campaigns: tuple[str, ...]) -> frozenset[str]:
    return frozenset(campaign_key(c) for c in campaigns)


class Acceptance(ReadsAhead):
    """`LeadService.accept` as a unit of work that asks its contact's history ahead of its
    batch (common/store/contact_history.py); `then` runs after it, in its transaction."""

    def __init__(
        self,
        submission: Submission,
        rules: IngestSettings,
        then: Callable[[Tx, Accepted], None] | None = None,
    ):
        self.submission = submission
        self.rules = rules
        self.then = then
        self.since = repeat_since(submission.lead, rules)  # one window for the ask and the answer

    def read_ahead(self, tx: Tx) -> None:
        lead = self.submission.lead
        tx.leads.history.ask(lead.phone, lead.email, self.since)

    def __call__(self, tx: Tx) -> Accepted:
        accepted = LeadService._accept(tx, self.submission, self.rules, self.since)
        if self.then is not None:
            self.then(tx, accepted)
        return accepted


class LeadService:
    """Units of work run inside `Store.write`; each is one transaction with its caller's."""

    @staticmethod
    def accept(tx: Tx, submission: Submission, rules: IngestSettings) -> Accepted:
        """A submission, whole: a retry under a known key gets the first answer again;
        else it is a new lead, or a repeat of a recent one."""
        return LeadService._accept(tx, submission, rules, repeat_since(submission.lead, rules))

    @staticmethod
    def _accept(
        tx: Tx, submission: Submission, rules: IngestSettings, since: str | None
    ) -> Accepted:
        key, hours = submission.key, rules.idempotency_hours
        if key and (stored := tx.idempotency.lookup(key, submission.fingerprint, hours)):
            return Accepted(stored, replayed=True)
        lead = submission.lead
        lead_id, task_id = LeadService._create_or_repeat(tx, lead, submission.metadata, since)
        answer: JsonObject = {"lead_id": lead_id, "task_id": None, "status": "new"}
        if task_id is None:
            answer |= {"status": "repeat", "repeat": True}
        if lead.warnings:
            warnings: list[Json] = [dict(warning) for warning in lead.warnings]
            answer["warnings"] = warnings
        if not key:
            return Accepted(answer, task_id=task_id)
        if task_id is not None:  # the answer kept for a retry holds the task's id: wait
            answer["task_id"] = task_id()
        tx.idempotency.remember(key, submission.fingerprint, answer, hours)
        return Accepted(answer)

    @staticmethod
    def create_lead(
        tx: Tx, lead: NewLead, metadata: Metadata | None = None, seen: bool | None = None
    ) -> tuple[str, int]:
        """LEAD_CREATED, its row and counters, and the send_to_crm task. `seen`: whether its
        contact came before, when the caller has already asked."""
        lead_id, task_id = LeadService._create(tx, lead, metadata, seen)
        return lead_id, task_id()

    @staticmethod
    def _create(
        tx: Tx, lead: NewLead, metadata: Metadata | None, seen: bool | None
    ) -> tuple[str, Callable[[], int]]:
        """`create_lead`, the task's id read when called: on PostgreSQL's pipeline nothing
        here waits for the server (the event's position is not read back either)."""
        # UUIDv7 ids grow with time, so each new lead lands at the end of every index keyed
        # by it (leads, events, tasks) instead of on a random page of an ever larger tree.
        lead_id = str(uuid7())
        repeat = seen
        if repeat is None:
            repeat = tx.leads.recent_with_contact(None, lead.phone, lead.email, "") is not None
        task_id = tx.tasks.enqueuing(SendToCrm(), lead_id=lead_id)
        event = tx.events.append(lead_id, 0, LeadCreated(lead, repeat), metadata, position=False)
        tx.project(event)
        tx.leads.history.made(lead_id, event.created_at, lead.campaign_id, lead.phone, lead.email)
        return lead_id, task_id

    @staticmethod
    def _create_or_repeat(
        tx: Tx, lead: NewLead, metadata: Metadata, since: str | None
    ) -> tuple[str, Callable[[], int] | None]:
        """A new lead, unless the same phone or email came for the same campaign since
        `since` (the repeat window): then the submission is a LEAD_REPEATED event on that
        first lead (shown on its timeline) and no second CRM deal is made; the task id is
        None."""
        first, seen = tx.leads.contact_history(lead.campaign_id, lead.phone, lead.email, since)
        if first is not None:
            LeadService.record(tx, first, LeadRepeated(lead), metadata)
            return first, None
        return LeadService._create(tx, lead, metadata, seen)

    @staticmethod
    def mark_merged(tx: Tx, lead_id: str, sent: LeadSentToCrm, metadata: Metadata) -> None:
        """After a delivery amoCRM answered `merged: true`: if another lead of ours is on
        that CRM lead, this one is merged into it (a CRM lead of none of ours is this one's)."""
        if not sent.merged or sent.crm_lead_id is None:
            return
        owner = tx.leads.by_crm_id(sent.connection, sent.crm_lead_id, other_than=lead_id)
        if owner is not None and owner.status != LeadStatus.MERGED:
            merged = LeadMergedInCrm(sent.connection, sent.crm_lead_id, owner.id)
            LeadService.record(tx, lead_id, merged, metadata)

    @staticmethod
    def record(
        tx: Tx,
        lead_id: str,
        payload: LeadEvent,
        metadata: Metadata | None = None,
        known_version: int | None = None,
        campaign: str | None = None,
    ) -> Event:
        """Append an event to an existing lead and project it. `known_version`: the lead's
        version as the caller read it in this transaction (spares reading it again);
        `campaign`: its campaign, if the caller read it (its counters are then added up over
        the batch instead of read from the lead's row by a statement of their own)."""
        version = known_version if known_version is not None else tx.leads.version(lead_id)
        if version is None:
            raise LeadNotFound(f"lead {lead_id} does not exist")
        event = tx.events.append(lead_id, version, payload, metadata, position=False, look=False)
        tx.project(event, campaign)
        return event
