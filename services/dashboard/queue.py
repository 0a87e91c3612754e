"""The tasks page: what the queue holds — due now apart from what waits on purpose (a retry's
backoff, a Metrica check's interval) — and each task that needs a person, named by its
client, campaign and CRM; retrying says what it did."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp_jinja2
from aiohttp import web

from common import appkeys, clock
from common.audit import Action
from common.config import Settings
from common.contacts import mask_phone
from common.model import Lead, Task, TaskStatus, TaskType
from common.store import Tx
from common.store.tasks import PendingGroup
from services.dashboard import audit, auth
from services.dashboard.connections import connection_of
from services.dashboard.i18n import Words
from services.dashboard.pages import flash, row_id, words
from services.dashboard.queries import RETRYING_ATTEMPTS
from services.dashboard.signals import Failure, read_failure
from services.dashboard.timeline import crm_label

log = logging.getLogger(__name__)
METRICA_TASKS = (TaskType.SEND_TO_YANDEX, TaskType.CHECK_YANDEX_UPLOAD)


@dataclass(frozen=True)
class Queue:
    """The open tasks in the words a person needs: how many are due and how late the
    latest-running is, how many wait on purpose and for what, how many run or failed."""

    due: int
    late_seconds: float | None
    retries: int
    checks: int
    deferred: int
    next_run: str | None
    processing: int
    failed: int

    @property
    def waiting(self) -> int:
        return self.retries + self.checks + self.deferred


def queue_of(groups: list[PendingGroup], counts: dict[TaskStatus, int]) -> Queue:
    due = [g for g in groups if g.due]
    waiting = [g for g in groups if not g.due]
    first_due = min((g.first_run_after for g in due), default=None)
    late = (clock.now() - clock.parse(first_due)).total_seconds() if first_due else None
    checks = sum(g.count for g in waiting if not g.retry and g.type == TaskType.CHECK_YANDEX_UPLOAD)
    retries = sum(g.count for g in waiting if g.retry)
    return Queue(
        due=sum(g.count for g in due),
        late_seconds=late,
        retries=retries,
        checks=checks,
        deferred=sum(g.count for g in waiting) - retries - checks,
        next_run=min((g.first_run_after for g in waiting), default=None),
        processing=counts.get(TaskStatus.PROCESSING, 0),
        failed=counts.get(TaskStatus.FAILED, 0),
    )


@dataclass(frozen=True)
class Row:
    """A task that needs a person, said in words."""

    task: Task
    kind: str
    state: str
    client: str
    campaign: str
    lead_id: str | None
    crm: str
    failure: Failure
    updated: str


def row_of(task: Task, lead: Lead | None, settings: Settings, t: Words) -> Row:
    if task.status == TaskStatus.FAILED:
        state = t.name("taskstatus", task.status)
    elif task.status == TaskStatus.PENDING:
        state = t("retrying", when=t.when(task.run_after))
    else:
        state = t("stuck")
    if task.type in METRICA_TASKS:
        crm = t("kind_metrica")
    else:
        campaign, sent_to = (lead.campaign_id, lead.crm_connection) if lead else ("", None)
        name = connection_of(settings, task, campaign, sent_to)
        kind = getattr(settings.crm.get(name), "kind", None)
        crm = f"{crm_label(t, kind, name)} · {name}" if name else t("why_unrouted")
    return Row(
        task=task,
        kind=t.name("tasktype", task.type),
        state=state,
        client=_client(lead),
        campaign=lead.campaign_id if lead else "",
        lead_id=task.lead_id,
        crm=crm,
        failure=read_failure(task.last_error),
        updated=t.when(task.updated_at),
    )


def _client(lead: Lead | None) -> str:
    """Who the task is about, short and masked: a name, else the phone's ends, else the
    e-mail's domain."""
    if lead is None:
        return ""
    if lead.name:
        return lead.name[:40]
    if lead.phone:
        return mask_phone(lead.phone) or ""
    return f"…@{lead.email.partition('@')[2]}" if lead.email else ""


@aiohttp_jinja2.template("tasks.html")
async def page(request: web.Request) -> dict[str, object]:
    def read(
        tx: Tx,
    ) -> tuple[list[Task], dict[str, Lead], list[PendingGroup], dict[TaskStatus, int]]:
        tasks = tx.tasks.needing_attention(RETRYING_ATTEMPTS)
        leads = tx.leads.many([task.lead_id for task in tasks if task.lead_id])
        return tasks, leads, tx.tasks.pending_groups(), tx.tasks.open_counts()

    tasks, leads, groups, counts = await request.app[appkeys.STORE].read(read)
    settings = request.app[appkeys.SETTINGS]
    t = words(request)
    return {
        "queue": queue_of(groups, counts),
        "rows": [row_of(task, leads.get(task.lead_id or ""), settings, t) for task in tasks],
    }


async def retry_task(request: web.Request) -> web.StreamResponse:
    await auth.check_csrf(request)
    task_id = row_id(request, "task_id", "task")
    retried = await audit.write(
        request,
        lambda tx: tx.tasks.retry_failed([task_id]),
        audit.entry(request, Action.RETRY, f"task {task_id}"),
        if_done=True,
    )
    t = words(request)
    key = "flash_task_retried" if retried else "flash_task_not_failed"
    await flash(request, t(key, task=task_id))
    raise web.HTTPFound(str(request.app.router["tasks"].url_for()))


async def retry_all(request: web.Request) -> web.StreamResponse:
    await auth.check_csrf(request)
    retried = await audit.write(
        request,
        lambda tx: tx.tasks.retry_failed(),
        lambda count: audit.entry(request, Action.RETRY_ALL, details={"tasks": str(count)}),
    )
    log.info("retried every failed task", extra={"tasks": retried})
    t = words(request)
    await flash(request, t("flash_retried", count=retried) if retried else t("flash_retried_none"))
    raise web.HTTPFound(str(request.app.router["tasks"].url_for()))
