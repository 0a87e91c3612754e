"""import_direct_costs tasks: one request to Direct's Reports service per claim, and what its
answer does to the task, each in one write.

- a report: its rows are recorded and, read whole, it replaces the range (a Direct campaign
  recorded on a day of it and absent now has no cost that day); the task completes;
- not ready (201/202): the same task, the same ReportName, asked again after retryIn, the
  wait not counted as a failed attempt (while the task is younger than Direct keeps a report);
- the server timed out (502): two tasks for the halves, this one completed;
- a temporary failure: retried with backoff, never sooner than Direct asked;
- a refusal only a person can fix: the task fails and /healthz names it until an import
  succeeds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import aiohttp

from common import clock
from common.config import Settings
from common.cost_imports import imports
from common.costs import CostService
from common.integrations.direct import (
    DirectReports,
    Misconfigured,
    NotReady,
    Report,
    ReportRequest,
    SplitRange,
    TryLater,
)
from common.model import JsonObject, Task
from common.ratelimit import SharedLimiter
from common.store import Store, Tx
from common.tasks import ImportDirectCosts
from services.dispatcher.outcomes import backoff

log = logging.getLogger(__name__)
ABOUT = "Yandex Direct costs"  # what /healthz names the problem after
# "Restrictions": offline reports are kept 5 hours. A report not ready after that is not
# coming; from then on each wait counts as an attempt, so the task ends.
WAITS_FREE_FOR = timedelta(hours=5)
SKIPPED_SHOWN = 5  # unreadable lines kept in the task's result

Reporter = Callable[[str, str | None], None]  # Health.report: (about, problem or None)


def direct_reports(settings: Settings, store: Store) -> DirectReports:
    """The Reports client of a dispatcher; on a shared store one rate budget serves every
    dispatcher on every host."""
    reports = DirectReports(
        settings.direct, settings.dashboard.zone, settings.dispatcher.request_timeout
    )
    if store.rate_limits_in_database:
        reports.limiter = SharedLimiter(store, "direct", settings.direct.rate_limit)
    return reports


class CostImports:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        http: aiohttp.ClientSession,
        report: Reporter = lambda about, problem: None,
    ):
        self.settings = settings
        self.store = store
        self.http = http
        self.report = report
        self.reports = direct_reports(settings, store)

    async def __call__(self, tasks: list[Task]) -> None:
        for task in tasks:
            await self.run(task)

    async def run(self, task: Task) -> None:
        payload = task.payload
        assert isinstance(payload, ImportDirectCosts)  # the processor hands this type alone
        request = ReportRequest(payload.date_from, payload.date_to, payload.report_name)
        match await self.reports.fetch(self.http, request):
            case Report() as report:
                await self._record(task, payload, report)
            case NotReady() as waiting:
                await self._wait(task, payload, waiting)
            case SplitRange() as split:
                await self._split(task, payload, split)
            case TryLater() as later:
                await self._later(task, payload, later.message, later.retry_after)
            case Misconfigured() as refused:
                await self._fail(task, payload, refused.message)

    async def _record(self, task: Task, payload: ImportDirectCosts, report: Report) -> None:
        currency = self.settings.direct.currency
        metadata = {"task_id": task.id}
        result: JsonObject = {"rows": len(report.rows), "request_id": report.request_id}
        if report.skipped:
            result["skipped"] = list(report.skipped[:SKIPPED_SHOWN])
            log.warning(
                "unreadable lines in a Direct report; the range is not replaced",
                extra={"task_id": task.id, "skipped": len(report.skipped)},
            )

        def unit(tx: Tx) -> int | None:
            if not tx.tasks.still_held(task):
                return None
            if report.skipped:  # not whole: record what was read, zero nothing
                changed = CostService.record(tx, report.rows, currency, metadata)
            else:
                first, last = payload.date_from, payload.date_to
                changed = CostService.replace_range(
                    tx, first, last, report.rows, currency, metadata
                )
            tx.tasks.complete(task.id, result | {"changed": changed})
            return changed

        changed = await self.store.write(unit)
        if changed is not None:
            self.report(ABOUT, None)
            log.info(
                "Direct costs imported",
                extra={"task_id": task.id, "rows": len(report.rows), "changed": changed},
            )

    async def _wait(self, task: Task, payload: ImportDirectCosts, waiting: NotReady) -> None:
        state = "queued" if waiting.status == 201 else "being built"
        note = f"the report is {state} at Yandex Direct; asked again in {waiting.retry_in:g} s"
        if waiting.queued is not None:
            note += f" ({waiting.queued} of this account's reports waiting)"
        if clock.now() - clock.parse(task.created_at) < WAITS_FREE_FOR:
            await self.store.write(lambda tx: tx.tasks.wait_if_held(task, waiting.retry_in, note))
        else:
            await self._later(task, payload, note, waiting.retry_in)

    async def _split(self, task: Task, payload: ImportDirectCosts, split: SplitRange) -> None:
        halves = [
            half
            for first, last in split.halves
            for half in imports(self.reports, first, last, payload.scheduled)
        ]

        def unit(tx: Tx) -> list[int]:
            if not tx.tasks.still_held(task):
                return []
            ids = [tx.tasks.enqueue(half) for half in halves]
            result: JsonObject = {"split": list(ids), "reason": split.message}
            tx.tasks.complete(task.id, result)
            return ids

        ids = await self.store.write(unit)
        if ids:
            log.info("Direct timed out on a range: split", extra={"task_id": task.id, "into": ids})

    async def _later(
        self, task: Task, payload: ImportDirectCosts, message: str, retry_after: float | None
    ) -> None:
        if task.exhausted:
            await self._fail(task, payload, f"gave up after {task.attempts} attempts: {message}")
            return
        delay = backoff(task.attempts, self.settings.dispatcher, retry_after)
        await self.store.write(lambda tx: tx.tasks.retry_if_held(task, delay, message))

    async def _fail(self, task: Task, payload: ImportDirectCosts, message: str) -> None:
        if await self.store.write(lambda tx: tx.tasks.fail_if_held(task, message)):
            span = f"{payload.date_from}..{payload.date_to}"
            self.report(ABOUT, f"the import of Yandex Direct costs of {span} failed: {message}")
            log.warning("Direct costs import failed", extra={"task_id": task.id, "reason": message})
