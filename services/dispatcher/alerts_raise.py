"""Where the dispatcher learns of problems and turns them into alerts: every /healthz report
(credentials refused, a webhook switched off, reconciliation or a cost import failing), a
connection's failures in a row, a lead that failed for good, an expiring credential.

What this process last wrote about a key is trusted for FRESH seconds, so a delivery that
succeeds costs no write; after that the database, which every dispatcher shares, decides.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from datetime import timedelta

from common.alerts import raising
from common.alerts.subjects import destinations
from common.config import AmoCrmConnection, Settings
from common.days import today
from common.integrations.base import AuthFailure, DeliveryFailure
from common.store import Store, Tx

log = logging.getLogger(__name__)
FRESH = 60.0
CREDENTIALS_EVERY = 3600.0  # how often token_expires is compared with the date


class AlertTriggers:
    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.alerts = settings.alerts
        self.store = store
        self.enabled = bool(destinations(settings.alerts))
        self._known: dict[str, tuple[str | None, float]] = {}
        self._writes: set[asyncio.Task[None]] = set()

    def reported(self, about: str, problem: str | None) -> None:
        """A Health listener: the problem of `about` began (or goes on), or ended."""
        if not self.enabled:
            return
        known = self._known.get(about)
        if known is not None and known[0] == problem and time.monotonic() - known[1] < FRESH:
            return
        self._known[about] = (problem, time.monotonic())
        self._spawn(self._apply(about, problem))

    async def _apply(self, about: str, problem: str | None) -> None:
        def unit(tx: Tx) -> bool:
            if problem is None:
                return raising.recovered(tx, self.alerts, about)
            return raising.problem(tx, self.alerts, about, problem)

        try:
            if await self.store.write(unit):
                log.info("alert queued", extra={"key": about, "recovered": problem is None})
        except Exception:
            log.exception("an alert could not be queued; will try at the next report")
            self._known.pop(about, None)

    def _spawn(self, work: Coroutine[object, None, None]) -> None:
        task = asyncio.create_task(work)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def delivered(
        self, connection: str | None, lead_id: str, failure: DeliveryFailure | None, failed: bool
    ) -> None:
        """After a send_to_crm outcome was written: count a temporary failure toward the
        connection's streak; tell a lead that failed for good (unless its connection's
        problem is told already)."""
        if not self.enabled or failure is None:
            return
        key = f"crm:{connection}" if connection else None
        counts = key is not None and failure.temporary and not isinstance(failure, AuthFailure)
        if counts:
            self._known.pop(key or "", None)  # the next success must clear the streak
        text = f"connection {connection!r}: {failure.message}"

        def unit(tx: Tx) -> None:
            if counts and key is not None:
                raising.failure_in_a_row(tx, self.alerts, key, text)
            if failed:
                raising.lead_failed(tx, self.alerts, lead_id, failure.message, key)

        if counts or failed:
            await self.store.write(unit)

    def credentials(self) -> None:
        """Tell amoCRM long-lived tokens that expire within credential_expiry_days, days
        of the business's calendar (dashboard.timezone), not UTC's."""
        soon = today(self.settings.dashboard.zone) + timedelta(
            days=self.alerts.credential_expiry_days
        )
        for name, connection in self.settings.crm.items():
            if isinstance(connection, AmoCrmConnection) and connection.token_expires:
                expires = connection.token_expires
                problem = f"the token of connection {name!r} expires on {expires.isoformat()}"
                self.reported(f"credential:{name}", problem if expires <= soon else None)

    async def watch_credentials(self) -> None:
        while True:
            self.credentials()
            await asyncio.sleep(CREDENTIALS_EVERY)  # the schedule, not a synchronisation

    async def stop(self) -> None:
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
