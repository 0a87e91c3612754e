"""A deal won before its price is typed: the Metrica upload waits for the amount, up to
yandex.amount_grace_hours, and carries it; after the grace it goes at Price 0, once."""

from decimal import Decimal

from common.config import Settings
from common.events import LeadSentToCrm
from common.leads import LeadService
from common.model import NewLead, Notice
from common.payments import PaymentService
from services.dispatcher.app import create_app
from tests.emulators import metrica
from tests.emulators.faults import start
from tests.helpers import ago, rows, stored, wait_for_async


def dispatching(settings: Settings, url: str, grace_hours: float) -> Settings:
    return Settings(
        database=settings.database,
        busy_timeout=settings.busy_timeout,
        dispatcher={"poll_interval": 0.05, "retry_base_delay": 0.01},
        yandex={
            "base_url": url,
            "token": "oauth-1",
            "counter_id": 42,
            "check_every": 3600,
            "rate_limit": 100,
            "amount_grace_hours": grace_hours,
        },
    )


async def won(store, yclid: str, amount: str, paid_at: str) -> str:
    """A lead delivered to amoCRM and won there with this amount ("0": no price yet)."""
    lead = NewLead(campaign_id="c", yclid=yclid)
    lead_id, task_id = await store.write(lambda tx: LeadService.create_lead(tx, lead))
    sent = LeadSentToCrm("amo", crm_lead_id=yclid)

    def delivered(tx):  # as the dispatcher's send_to_crm would have
        LeadService.record(tx, lead_id, sent)
        tx.tasks.complete(task_id, {})

    await store.write(delivered)
    await notice(store, yclid, amount, paid_at)
    return lead_id


async def notice(store, crm_id: str, amount: str, paid_at: str) -> dict:
    said = Notice("paid", crm_id, amount=Decimal(amount), currency="RUB", paid_at=paid_at)
    return await store.write(lambda tx: PaymentService.apply(tx, "amo", said, {}))


def uploaded(emulator: metrica.Metrica, yclid: str) -> list[str]:
    """The Price of each row Metrica got for this yclid."""
    return [row["Price"] for rows in emulator.uploads for row in rows if row["Yclid"] == yclid]


async def uploads_settled(store) -> bool:
    """Every send_to_yandex_direct task has finished (the waiting one too)."""
    tasks = rows(store.location, "SELECT status FROM tasks WHERE type = 'send_to_yandex_direct'")
    return {task["status"] for task in tasks} == {"completed"}


async def test_the_upload_waits_for_the_amount_and_carries_it(aiohttp_client, settings, store):
    emulator = metrica.Metrica("oauth-1", 42)
    runner, url = await start(metrica.create_app(emulator))
    try:
        await aiohttp_client(create_app(dispatching(settings, url, grace_hours=24)))
        paid_at = stored(ago(minutes=10))
        await won(store, "111", "0", paid_at)
        await won(store, "222", "900", paid_at)  # priced: goes at once
        await wait_for_async(lambda: _async(uploaded(emulator, "222")))
        assert uploaded(emulator, "111") == []  # the same dispatcher kept it back
        answer = await notice(store, "111", "15000", paid_at)
        assert answer["status"] == "amount_set"
        await wait_for_async(lambda: _async(uploaded(emulator, "111")))
    finally:
        await runner.cleanup()
    assert uploaded(emulator, "111") == ["15000.00"]
    assert uploaded(emulator, "222") == ["900.00"]


async def test_after_the_grace_it_goes_without_revenue_once(aiohttp_client, settings, store):
    """Won an hour ago with no price and a grace of an hour and a few seconds: the first
    look waits; when the price comes it goes with it, and the waiting task, once due, sends
    nothing more. A second lead never priced goes at 0.00 once its grace is over."""
    emulator = metrica.Metrica("oauth-1", 42)
    runner, url = await start(metrica.create_app(emulator))
    try:
        grace = 1 + 3 / 3600
        await aiohttp_client(create_app(dispatching(settings, url, grace_hours=grace)))
        paid_at = stored(ago(hours=1))
        await won(store, "333", "0", paid_at)
        await won(store, "444", "0", paid_at)
        await notice(store, "333", "700", paid_at)
        await wait_for_async(lambda: _async(uploaded(emulator, "444")))
        await wait_for_async(lambda: uploads_settled(store))
    finally:
        await runner.cleanup()
    assert uploaded(emulator, "333") == ["700.00"]  # once, with its amount
    assert uploaded(emulator, "444") == ["0.00"]  # no revenue, but the conversion counts


async def _async(value: object) -> object:
    return value
