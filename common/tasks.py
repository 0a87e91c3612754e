"""What each task type carries: one frozen dataclass per TaskType.

The lead a task is about is the task's own `lead_id` column, never repeated here; only
`common.store.codec` turns these into the stored JSON and back.
"""

from __future__ import annotations

from dataclasses import dataclass
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


TaskPayload: TypeAlias = SendToCrm | SendToYandex | ResolveDeal | CheckUpload
TASK_CLASSES: dict[TaskType, type[TaskPayload]] = {
    cls.type: cls for cls in (SendToCrm, SendToYandex, ResolveDeal, CheckUpload)
}
