"""Reconciliation: the won and lost deals a CRM's webhooks did not bring.

Bitrix24 sends an outgoing webhook once and never again, and any webhook can be lost
while we are down, slow or behind a broken proxy. Every `reconcile_every` seconds this
reads what changed in a fixed window of time (common.reconciling) a page at a time and
applies each deal with the same paid-once rules as a webhook. Each page is one write that
also moves the cursor, so a restart resumes at the page it stopped at; a round reads at
most MAX_PAGES, and a record that cannot be read is skipped, counted and logged. Then
the payments already held are asked about again, a batch a round (services.dispatcher.recheck).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from functools import partial

import aiohttp

from common import clock
from common.errors import BadRequest, InvalidField
from common.integrations.base import CrmIntegration, DeliveryFailure
from common.model import JsonObject, Notice
from common.payments import PaymentService
from common.reconciling import Page, Reading, Window
from common.store import Store, Tx
from services.dispatcher.recheck import recheck_payments

log = logging.getLogger(__name__)
FIRST_LOOK_BACK = timedelta(days=1)  # with no cursor yet: the day before the first look
# A window ends this far behind now: a change the CRM is still committing, or one stamped
# by a CRM clock a little behind ours, then falls in a later window instead of a read one.
SETTLE = timedelta(minutes=2)
MAX_PAGES = 20  # requests per round; a CRM that always answers "next" waits for the next
ROWS_PER_WRITE = 100  # deals applied in one write, so landing-page leads are not held up
SHOWN_AFTER = 3  # rounds failed in a row before /healthz names it (one may be a blip)

Report = Callable[[str, str | None], None]  # (what, problem or None when it is gone)


class DealReconciliation:
    def __init__(
        self,
        store: Store,
        integration: CrmIntegration,
        http: aiohttp.ClientSession,
        report: Report = lambda what, problem: None,
    ):
        self.store = store
        self.integration = integration
        self.http = http
        self.report = report

    async def run(self, every: float) -> None:
        name = self.integration.name
        while True:
            try:
                applied = await self.once()
                if applied:
                    log.info("reconciled deals", extra={"connection": name, "answers": applied})
            except DeliveryFailure as failure:
                await self.failed(failure.message)
            except Exception as error:
                log.exception("reconciliation error; will try again")
                await self.failed(f"{error.__class__.__name__}: {error}")
            await asyncio.sleep(every)  # the reconciliation interval

    async def failed(self, reason: str) -> None:
        """Count the failed round where the dashboard sees it; name it on /healthz once it
        has failed SHOWN_AFTER rounds in a row."""
        name = self.integration.name
        log.warning(
            "reconciliation failed; will try again", extra={"connection": name, "reason": reason}
        )

        def unit(tx: Tx) -> int:
            reading = tx.cursors.get(name)
            tx.cursors.set(name, replace(reading, failures=reading.failures + 1, problem=reason))
            return reading.failures + 1

        try:
            failures = await self.store.write(unit)
        except Exception:
            log.exception("the failed round could not be recorded")
            failures = SHOWN_AFTER
        if failures >= SHOWN_AFTER:
            self.report(
                f"reconciliation of {name}",
                f"reconciliation of {name} has failed {failures} rounds in a row: {reason}",
            )

    async def once(self) -> list[str]:
        """One round: the status of each deal's answer (ok, duplicate, unmatched, …)."""
        name = self.integration.name
        reading = await self.store.read(lambda tx: tx.cursors.get(name))
        reading = await self._look_at_webhook(reading)
        now = clock.now()
        window = reading.window(now - FIRST_LOOK_BACK, now - SETTLE)
        answers: list[str] = []
        for _ in range(MAX_PAGES):
            if window is None:
                break
            page = await self.integration.closed_page(self.http, window)
            window, reading = await self._apply(page, window, reading, answers)
        if self.integration.rechecks_payments:
            answers += await recheck_payments(self.store, self.integration, self.http)
        await self._healthy(reading)
        return answers

    async def _apply(
        self, page: Page, window: Window, reading: Reading, answers: list[str]
    ) -> tuple[Window | None, Reading]:
        """Apply one page in writes of at most ROWS_PER_WRITE deals; the last one moves the
        cursor past the page (a write that runs again applies nothing twice)."""
        notices, unreadable = self._notices(page.items)
        skipped = page.skipped + unreadable
        following = replace(window, place=page.place) if page.place is not None else None
        reading = replace(
            reading,
            since=window.since if following else window.until,
            until=window.until if following else None,
            place=page.place,
            skipped=reading.skipped + skipped,
            failures=0,
            problem=None,
        )
        chunks = list(_chunks(notices)) or [[]]
        for n, chunk in enumerate(chunks):
            moved = reading if n == len(chunks) - 1 else None
            answers += await self.store.write(partial(self._unit, notices=chunk, moved=moved))
        if skipped:
            log.warning(
                "unreadable deals skipped",
                extra={"connection": self.integration.name, "skipped": skipped},
            )
        return following, reading

    def _unit(self, tx: Tx, notices: list[Notice], moved: Reading | None) -> list[str]:
        name = self.integration.name
        metadata = {"source": f"reconcile:{name}"}
        answers = [PaymentService.apply(tx, name, notice, metadata) for notice in notices]
        if moved is not None:
            tx.cursors.set(name, moved)
        return [str(answer.get("status")) for answer in answers]

    def _notices(self, items: list[JsonObject]) -> tuple[list[Notice], int]:
        notices: list[Notice] = []
        for item in items:
            try:
                notices.append(self.integration.notice_of(item))
            except (BadRequest, InvalidField) as error:
                reason = error.message
                log.warning(
                    "unusable deal skipped",
                    extra={"deal": item.get("ID") or item.get("id"), "reason": reason},
                )
        return notices, len(items) - len(notices)

    async def _look_at_webhook(self, reading: Reading) -> Reading:
        """Ask the CRM whether our webhook is on; a CRM that cannot say changes nothing."""
        name = self.integration.name
        try:
            problem = await self.integration.webhook_problem(self.http)
        except DeliveryFailure as failure:
            log.warning(
                "webhook state unknown", extra={"connection": name, "reason": failure.message}
            )
            return reading
        self.report(f"webhook of {name}", problem)
        if problem == reading.webhook:
            return reading
        changed = replace(reading, webhook=problem)
        await self.store.write(lambda tx: self._keep_webhook(tx, problem))
        return changed

    def _keep_webhook(self, tx: Tx, problem: str | None) -> None:
        name = self.integration.name
        tx.cursors.set(name, replace(tx.cursors.get(name), webhook=problem))

    async def _healthy(self, reading: Reading) -> None:
        """A round that completed clears a failure shown on /healthz and the dashboard."""
        self.report(f"reconciliation of {self.integration.name}", None)
        if reading.failures or reading.problem:
            await self.store.write(self._clear)

    def _clear(self, tx: Tx) -> None:
        name = self.integration.name
        tx.cursors.set(name, replace(tx.cursors.get(name), failures=0, problem=None))


def _chunks(notices: list[Notice]) -> Iterator[list[Notice]]:
    for start in range(0, len(notices), ROWS_PER_WRITE):
        yield notices[start : start + ROWS_PER_WRITE]
