"""send_to_yandex_direct tasks: every due conversion of a claim goes in one Metrica upload."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import aiohttp

from common import clock
from common.config import Settings
from common.events import (
    YandexConversionFailed,
    YandexConversionSkipped,
    YandexDirectConversion,
)
from common.integrations.base import DeliveryFailure, PermanentFailure
from common.integrations.yandex import (
    Conversion,
    RefusedFile,
    VisitWindow,
    YandexDirectIntegration,
    visit_window,
)
from common.model import Lead, LeadStatus, Task
from common.ratelimit import SharedLimiter
from common.store import Store, Tx
from common.tasks import CheckUpload
from services.dispatcher.outcomes import Done, Failed, apply_each

log = logging.getLogger(__name__)
# Metrica: "the data appear in reports within 2 hours of an upload" (its offline conversions
# help, "Transmitting and processing data"): the latest moment it processes a file we send now.
METRICA_PROCESSING = timedelta(hours=2)


Due = list[tuple[Task, Conversion]]
Outcomes = dict[int, Done | Failed]
# Tasks that send nothing now: seconds until they look again (the amount is pending), or
# None when the lead's conversion has already gone (Metrica has no update or delete).
Later = dict[int, float | None]
SENT = frozenset({"uploaded", "linked", "not_linked", "partly_linked", "unconfirmed"})


def _by_upload_key(due: Due) -> dict[str | None, Due]:
    """Tasks grouped by the key of the upload an earlier claim sent them in (None: never)."""
    groups: dict[str | None, Due] = {}
    for task, conversion in due:
        key = (task.result or {}).get("upload_key")
        groups.setdefault(key if isinstance(key, str) else None, []).append((task, conversion))
    return groups


def _days(span: timedelta) -> str:
    """A span in days to a tenth, without a trailing .0: "21", "3.1"."""
    return f"{span / timedelta(days=1):.1f}".removesuffix(".0")


def _outside_window(lead: Lead, window: VisitWindow) -> str | None:
    """Metrica links a conversion to a visit only if the visit falls in its window at the
    moment it PROCESSES the file (up to METRICA_PROCESSING after the upload), not at the
    payment: a payment a day after the visit uploaded three weeks later is too late. The
    lead's creation stands for the visit."""
    visit = clock.parse(lead.created_at)
    if visit >= window.since:
        return None
    processed_by = clock.now() + METRICA_PROCESSING
    return (
        f"Metrica would process it {_days(processed_by - visit)} days after the visit: it links"
        f" a conversion to a visit only within {_days(processed_by - window.since)} days"
        f" ({window.source})"
    )


def metrica(settings: Settings, store: Store) -> YandexDirectIntegration:
    """The Metrica client of a dispatcher's handlers; on a shared store one rate budget
    serves every dispatcher on every host."""
    yandex = YandexDirectIntegration(settings.yandex)
    if store.rate_limits_in_database:
        yandex.limiter = SharedLimiter(store, "metrica", settings.yandex.rate_limit)
    return yandex


class YandexConversions:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        http: aiohttp.ClientSession,
        on_upload: Callable[[str], None],
    ):
        self.settings = settings
        self.store = store
        self.http = http
        self.yandex = metrica(settings, store)
        self.on_upload = on_upload

    async def __call__(self, tasks: list[Task]) -> None:
        # The claim read each task's lead in its own transaction; read only what it did not.
        leads = {task.lead.id: task.lead for task in tasks if task.lead is not None}
        missing = [t.lead_id for t in tasks if t.lead_id and t.lead_id not in leads]
        if missing:
            leads |= await self.store.read(lambda tx: tx.leads.many(missing))
        outcomes: dict[int, Done | Failed] = {}
        later: Later = {}
        due: Due = []
        window = await self._window()
        for task in tasks:
            lead = leads.get(task.lead_id or "")
            reason = self._skip_reason(lead, window)
            if reason or lead is None:
                outcomes[task.id] = Done(YandexConversionSkipped(str(reason)))
            elif lead.conversion_status in SENT or lead.id in {c.lead_id for _, c in due}:
                later[task.id] = None  # its amount came, or it was won again: sent once
            elif wait := self._amount_wait(lead):
                later[task.id] = wait
            else:
                try:
                    due.append((task, self._conversion(lead)))
                except (ValueError, ArithmeticError) as error:  # this row only, not its batch
                    failure = PermanentFailure(f"the payment cannot be a conversion: {error}")
                    outcomes[task.id] = Failed(failure, YandexConversionFailed)
        for key, group in _by_upload_key(due).items():
            outcomes |= await self._deliver(group, key)
        await self.store.write(lambda tx: self._settle_all(tx, tasks, outcomes, later))

    def _amount_wait(self, lead: Lead) -> float | None:
        """Seconds the upload of a payment whose amount is pending still waits for it: until
        `yandex.amount_grace_hours` after the win; None once it may go (at Price 0)."""
        if not lead.payment_pending or lead.paid_at is None:
            return None
        hours = self.settings.yandex.amount_grace_hours
        ends = clock.parse(lead.paid_at) + timedelta(hours=hours)
        left = (ends - clock.now()).total_seconds()
        return left if left > 0 else None

    async def _window(self) -> VisitWindow:
        """The visits Metrica will still link once it processes what is sent now."""
        yandex = self.settings.yandex
        threshold = await self.yandex.counter_threshold(self.http) if yandex.enabled else None
        return visit_window(clock.now() + METRICA_PROCESSING, yandex.visit_join_days, threshold)

    def _skip_reason(self, lead: Lead | None, window: VisitWindow) -> str | None:
        if lead is None:
            return "the lead does not exist"
        if lead.status != LeadStatus.PAID:
            return f"the lead is {lead.status}, not paid"
        if not self.settings.yandex.enabled:
            return "Yandex Metrica is not configured (yandex.token and yandex.counter_id)"
        if not lead.yclid and not lead.ym_client_id:
            return "the lead has neither a yclid nor a Metrica ClientID"
        return _outside_window(lead, window)

    @staticmethod
    def _conversion(lead: Lead) -> Conversion:
        assert lead.paid_at is not None and lead.payment_amount is not None
        return Conversion(
            lead_id=lead.id,
            yclid=lead.yclid,
            client_id=lead.ym_client_id,
            paid_at_unix=clock.unix(lead.paid_at),
            price=Decimal(lead.payment_amount),
            currency=lead.payment_currency or "",
        )

    async def _deliver(self, due: Due, key: str | None) -> Outcomes:
        """Upload once. Tasks that carry the key of an earlier try (their dispatcher died, or
        the answer was lost, after sending) are first looked up in Metrica's list of uploads
        by that key, the upload's `comment`: found, they are done without a second file."""
        if key is not None:
            try:
                upload_id = await self.yandex.find(self.http, key)
            except DeliveryFailure as failure:
                return self._failed(due, failure)
            if upload_id is not None:
                log.info("upload found by its key; not sent again", extra={"key": key})
                return self._uploaded(due, upload_id)
        return await self._send(due, key or f"leadrelay{secrets.token_hex(8)}")

    async def _send(self, due: Due, key: str) -> Outcomes:
        """Mark the tasks with the key, then send; if Metrica refuses the file, send each half
        on its own, so one bad row fails alone and the good ones still go."""
        await self.store.write(lambda tx: tx.tasks.note([t for t, _ in due], {"upload_key": key}))
        try:
            upload_id = await self.yandex.upload(self.http, [c for _, c in due], key)
        except RefusedFile as refused:
            if len(due) == 1:
                return self._failed(due, refused)
            half = len(due) // 2
            return await self._send(due[:half], key + "a") | await self._send(due[half:], key + "b")
        except DeliveryFailure as failure:
            return self._failed(due, failure)
        return self._uploaded(due, upload_id)

    def _failed(self, due: Due, failure: DeliveryFailure) -> Outcomes:
        log.warning("conversion upload failed", extra={"rows": len(due), "reason": failure.message})
        self.on_upload("failed")
        return {t.id: Failed(failure, YandexConversionFailed) for t, _ in due}

    def _uploaded(self, due: Due, upload_id: str) -> Outcomes:
        log.info("conversions uploaded", extra={"rows": len(due), "upload_id": upload_id})
        self.on_upload("uploaded")
        yandex = self.settings.yandex
        outcomes: Outcomes = {}
        for task, conversion in due:
            uploaded = YandexDirectConversion(
                upload_id=upload_id,
                counter_id=yandex.counter_id,
                target=yandex.target,
                id_type="yclid" if conversion.yclid else "client_id",
            )
            outcomes[task.id] = Done(uploaded, {"upload_id": upload_id})
        return outcomes

    def _settle_all(
        self, tx: Tx, tasks: list[Task], outcomes: dict[int, Done | Failed], later: Later
    ) -> None:
        for task in tasks:
            if task.id not in later:
                continue
            wait = later[task.id]
            if wait is None:
                if tx.tasks.still_held(task):
                    tx.tasks.complete(task.id, {"sent": "the lead's conversion went before"})
            else:
                tx.tasks.retry_if_held(task, wait, "waiting for the amount of the won deal")
        tasks = [task for task in tasks if task.id in outcomes]
        settled = apply_each(tx, tasks, outcomes, self.settings.dispatcher)
        for task in tasks:
            outcome = outcomes[task.id]
            uploaded = outcome.event if isinstance(outcome, Done) else None
            if settled[task.id] == "completed" and isinstance(uploaded, YandexDirectConversion):
                # Metrica processes the file later: look at how it went then.
                check = CheckUpload(uploaded.upload_id)
                delay = self.settings.yandex.check_every
                tx.tasks.enqueue(check, delay, lead_id=task.lead_id)
