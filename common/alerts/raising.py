"""Units of work that decide an alert is due and queue one send_alert task per destination,
in the caller's transaction: a problem once while it lasts, its recovery once."""

from __future__ import annotations

from common.alerts.subjects import (
    AlertKind,
    Destination,
    destinations,
    new_lead_destinations,
)
from common.config import AlertsSettings
from common.store import Tx
from common.tasks import SendAlert


def _queue(
    tx: Tx,
    kind: AlertKind,
    to: list[Destination],
    key: str = "",
    problem: str = "",
    lead_id: str | None = None,
) -> int:
    for destination in to:
        alert = SendAlert(kind, destination.channel, destination.to, key, problem)
        tx.tasks.enqueue(alert, lead_id=lead_id)
    return len(to)


def problem(tx: Tx, settings: AlertsSettings, key: str, text: str) -> bool:
    """The problem of `key` is there; True when it was not already being told."""
    if not tx.alerts.fire(key, text):
        return False
    _queue(tx, AlertKind.PROBLEM, destinations(settings), key, text)
    return True


def recovered(tx: Tx, settings: AlertsSettings, key: str) -> bool:
    """The problem of `key` is over; True when one was being told (its recovery is queued)."""
    state = tx.alerts.get(key)
    if state is None or not tx.alerts.settle(key):
        return False
    _queue(tx, AlertKind.RECOVERED, destinations(settings), key, state.problem)
    return True


def failure_in_a_row(tx: Tx, settings: AlertsSettings, key: str, text: str) -> bool:
    """One more failure of `key`; the `failing_streak`-th in a row raises the problem."""
    if tx.alerts.bump(key, text) < settings.failing_streak:
        return False
    return problem(tx, settings, key, text)


def new_lead(tx: Tx, settings: AlertsSettings, lead_id: str, campaign_id: str) -> int:
    """Announce a new lead where its campaign is subscribed; how many messages were queued."""
    return _queue(
        tx, AlertKind.NEW_LEAD, new_lead_destinations(settings, campaign_id), lead_id=lead_id
    )


def lead_failed(
    tx: Tx, settings: AlertsSettings, lead_id: str, reason: str, covered_by: str | None
) -> int:
    """A lead whose delivery failed for good, unless the problem of `covered_by` (its
    connection failing) is being told already: one broken CRM is one message, not one a lead."""
    if covered_by is not None and (state := tx.alerts.get(covered_by)) and state.firing:
        return 0
    return _queue(
        tx, AlertKind.DELIVERY_FAILED, destinations(settings), problem=reason, lead_id=lead_id
    )
