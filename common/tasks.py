"""What each task type carries: one frozen dataclass per TaskType.

The lead a task is about is the task's own `lead_id` column, never repeated here; only
`common.store.codec` turns these into the stored JSON and back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import ClassVar, TypeAlias

from common.model import TaskType


@dataclass(frozen=True, slots=True)
class SendToCrm:
    """Deliver the task's lead to the CRM its campaign routes to."""

    type: ClassVar[TaskType] = TaskType.SEND_TO_CRM


@dataclass(frozen=True, slots=True)
class SendToYandex:
    """Upload the task's paid lead to Metrica as an offline conversion."""

    type: ClassVar[TaskType] = TaskType.SEND_TO_YANDEX


@dataclass(frozen=True, slots=True)
class ResolveDeal:
    """A CRM notice that names a deal only: read the deal, then apply it."""

    type: ClassVar[TaskType] = TaskType.RESOLVE_DEAL
    connection: str
    deal_id: str
    receipt_id: int  # the webhook receipt that learns how it ended


@dataclass(frozen=True, slots=True)
class CheckUpload:
    """Ask Metrica whether it has processed the upload that carried the lead's conversion."""

    type: ClassVar[TaskType] = TaskType.CHECK_YANDEX_UPLOAD
    upload_id: str


@dataclass(frozen=True, slots=True)
class ImportDirectCosts:
    """Read Yandex Direct's costs of the days from `date_from` to `date_to` (both included,
    the business's days) and make them what is recorded for those days."""

    type: ClassVar[TaskType] = TaskType.IMPORT_DIRECT_COSTS
    date_from: date
    date_to: date
    # The ReportName, chosen when the task was queued and sent on every attempt: an offline
    # report is fetched by repeating the request that queued it, name and all.
    report_name: str
    scheduled: bool = False  # queued by the dispatcher's schedule, not by a person


@dataclass(frozen=True, slots=True)
class EraseExpired:
    """Retention (`privacy.erase_after_days`): erase the personal data of the leads created
    more than `days` days ago, in batches (common.erasure)."""

    type: ClassVar[TaskType] = TaskType.ERASE_EXPIRED
    days: int


@dataclass(frozen=True, slots=True)
class SendAlert:
    """Tell one destination (a Telegram chat, an e-mail recipient: ours, from [alerts]) about
    a lead (the task's `lead_id`) or a problem. Never a person's contact: the text is made
    when it is sent, from the lead as it is then."""

    type: ClassVar[TaskType] = TaskType.SEND_ALERT
    kind: str  # common.alerts.subjects.AlertKind
    channel: str  # "telegram" or "email"
    to: str  # the chat id or the recipient, as configured
    key: str = ""  # the alert key of a problem (crm:amo, queue:stalled, ...)
    problem: str = ""  # what is wrong, in words that name no person


TaskPayload: TypeAlias = (
    SendToCrm
    | SendToYandex
    | ResolveDeal
    | CheckUpload
    | ImportDirectCosts
    | EraseExpired
    | SendAlert
)
TASK_CLASSES: dict[TaskType, type[TaskPayload]] = {
    cls.type: cls
    for cls in (
        SendToCrm,
        SendToYandex,
        ResolveDeal,
        CheckUpload,
        ImportDirectCosts,
        EraseExpired,
        SendAlert,
    )
}
