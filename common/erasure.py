"""Erasing a person's data (152-FZ, GDPR): from the CLI, the lead page and retention.

The events are rewritten in place, in the same transaction as everything else the erasure
touches, and LEAD_ERASED is appended (who, why; when is its time), so the history stays whole
and `verify` agrees: the rewritten LEAD_CREATED replays to the erased row. Then the store
leaves no old copy in its files (`Store.erase_traces`). What counts as personal is
`common.personal`'s to say.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from common import clock
from common.audit import Action, AuditEntry
from common.contacts import fold, normalise_email, normalise_phone
from common.errors import LeadNotFound
from common.events import LeadCreated, LeadErased, LeadRepeated
from common.leads import LeadService
from common.personal import contact_strings, erased_event, without_strings
from common.store import Store, Tx

log = logging.getLogger(__name__)
# The tables whose rows an erasure rewrites or deletes: their old copies must go too.
TOUCHED = ("events", "leads", "idempotency_keys", "webhook_receipts", "tasks")
BATCH = 50  # leads erased in one transaction
SYSTEM = "system"  # the actor of retention


@dataclass(frozen=True)
class Request:
    """Who asks for an erasure, why, and from where (an address, or the CLI's host)."""

    actor: str
    reason: str = ""
    address: str = ""
    scan: bool = True  # also look for the contact in other webhooks' bodies (reads them all)
    rewrite: bool = True  # PostgreSQL: VACUUM FULL afterwards (privacy.vacuum_full)


@dataclass(frozen=True)
class Outcome:
    erased: list[str]  # leads whose data was erased now
    already: list[str]  # leads that held nothing more to erase
    traces_gone: bool  # the store's files were cleaned (see Store.erase_traces)


def erase_lead(tx: Tx, lead_id: str, request: Request) -> bool:
    """One lead, whole: its events rewritten, its row and the rows beside it without the
    person, LEAD_ERASED appended and the audit log told. False (and nothing written) when an
    earlier erasure left nothing to do."""
    events = tx.events.read_stream(lead_id)
    if tx.leads.version(lead_id) is None:
        raise LeadNotFound(f"lead {lead_id} does not exist")
    needles: set[str] = set()
    for event in events:
        if isinstance(event.payload, LeadCreated | LeadRepeated):
            needles |= contact_strings(event.payload.lead)
    changed = False
    for event in events:
        erased = erased_event(event.payload, needles)
        if erased != event.payload:
            tx.erasure.rewrite(replace(event, payload=erased))
            changed = True
    changed |= tx.erasure.forget_answers(lead_id) > 0
    changed |= tx.erasure.scrub_receipts(lead_id, needles if request.scan else set()) > 0
    changed |= tx.erasure.scrub_tasks(lead_id, needles) > 0
    if not changed and any(isinstance(e.payload, LeadErased) for e in events):
        return False
    reason = without_strings(request.reason, needles)
    LeadService.record(tx, lead_id, LeadErased(request.actor, reason), {"source": "erasure"})
    details = {"reason": reason} if reason else {}
    tx.audit.add(AuditEntry(request.actor, Action.ERASE, lead_id, request.address, details))
    return True


def leads_of(tx: Tx, phone: str | None = None, email: str | None = None) -> list[str]:
    """The leads holding this phone (E.164) or e-mail, on their row or in their events."""
    needles = {n for n in (phone, email) if n}
    return tx.erasure.leads_of(phone, fold(email), needles)


def read_phone(raw: str, region: str) -> str:
    """A phone as intake reads it (E.164); ValueError naming the problem."""
    try:
        return normalise_phone(raw, region)
    except ValueError as error:
        raise ValueError(
            f"--phone is {error} (written as a landing page would send it?)"
        ) from error


def read_email(raw: str) -> str:
    """An e-mail as intake reads it; ValueError naming the problem."""
    try:
        return normalise_email(raw)
    except ValueError as error:
        raise ValueError(f"--email is not an e-mail address: {error}") from error


async def erase(store: Store, lead_ids: list[str], request: Request) -> Outcome:
    """Erase the leads, `BATCH` to a transaction, then clean the store's files."""
    erased = await _in_batches(store, lead_ids, request)
    clean = await store.erase_traces(TOUCHED, request.rewrite) if erased else True
    if not clean:
        log.warning("erased rows may keep old copies in the WAL until its next checkpoint")
    already = [lead_id for lead_id in lead_ids if lead_id not in erased]
    return Outcome(erased, already, clean)


async def _in_batches(store: Store, lead_ids: list[str], request: Request) -> list[str]:
    erased: list[str] = []
    for start in range(0, len(lead_ids), BATCH):
        chunk = lead_ids[start : start + BATCH]

        def unit(tx: Tx, chunk: list[str] = chunk) -> list[str]:
            return [lead_id for lead_id in chunk if erase_lead(tx, lead_id, request)]

        erased += await store.write(unit)
    return erased


async def erase_expired(
    store: Store, days: int, batches: int = 20, rewrite: bool = True
) -> Outcome:
    """Retention: erase leads created more than `days` days ago, at most `batches` batches
    in one call (the next run goes on), and blank the bodies of webhooks as old."""
    before = clock.iso(clock.now() - timedelta(days=days))
    request = Request(SYSTEM, "retention", scan=False, rewrite=rewrite)
    done: list[str] = []
    for _ in range(batches):
        due = await store.read(lambda tx: tx.erasure.expired(before, BATCH))
        if not due:
            break
        erased = await _in_batches(store, due, request)
        done += erased
        if not erased:
            break  # nothing left to do on these: do not spin
    blanked = await store.write(lambda tx: tx.erasure.old_receipts(before))
    clean = await store.erase_traces(TOUCHED, rewrite) if done or blanked else True
    return Outcome(done, [], clean)
