"""Alerts end to end: a broken CRM is one alert and one "recovered", however many leads
fail; new leads announced where subscribed, masked or not; the stalled-queue watcher speaks
with the dispatcher down; secrets stay out of logs and stored tasks."""

from __future__ import annotations

import logging

import pytest

from common.alerts import raising
from common.contacts import mask_phone
from common.leads import LeadService
from common.model import NewLead, TaskType
from common.tasks import SendToCrm
from services.dashboard.app import create_app as dashboard_app
from services.dispatcher.app import create_app as dispatcher_app
from services.ingest.app import create_app as ingest_app
from tests.emulators import generic
from tests.emulators.faults import Faults, start
from tests.emulators.smtp import SmtpState, start_smtp
from tests.emulators.telegram import TelegramState
from tests.helpers import SECRET, rows, wait_for_async
from tests.integration.alerting import TOKEN, telegram_emulator  # noqa: F401 (a fixture)

CHAT = "-1002"


@pytest.fixture
async def crm():
    receiver = generic.Receiver(SECRET)
    runner, url = await start(generic.create_app(receiver))
    yield receiver, url
    await runner.cleanup()


def configured(settings, telegram_url: str, **alerts):
    telegram = {"base_url": telegram_url, "token": TOKEN, "chat_ids": [CHAT]}
    return settings.model_copy(
        update={
            # English words, which these tests read; Russian (the default) in test_alert_words.
            "alerts": type(settings.alerts)(telegram=telegram, **({"language": "en"} | alerts)),
            "dispatcher": type(settings.dispatcher)(
                poll_interval=0.02, retry_base_delay=0.05, retry_max_delay=0.2, max_attempts=50
            ),
        }
    )


def lead(n: int) -> NewLead:
    return NewLead(campaign_id="spring", name="Ivan Petrov", phone=f"+7999123450{n}")


async def test_a_broken_crm_sends_one_alert_and_one_recovered(
    settings, store, telegram, crm, aiohttp_client, caplog
):
    caplog.set_level(logging.DEBUG)
    state, url = telegram
    receiver, crm_url = crm
    receiver.faults = Faults(status=503)
    shop = {"kind": "generic", "url": f"{crm_url}/leads", "secret": SECRET}
    settings = configured(settings, url, failing_streak=3)
    settings = settings.model_copy(
        update={
            "crm": type(settings).model_validate({"crm": {"shop": shop}}).crm,
            "routing": type(settings.routing)(default_crm="shop"),
        }
    )
    await store.write(lambda tx: [LeadService.create_lead(tx, lead(n)) for n in range(8)])
    await aiohttp_client(dispatcher_app(settings))

    async def every_lead_failed_thrice():
        return receiver.refused >= 8 * 3

    await wait_for_async(every_lead_failed_thrice, timeout=30)
    assert len(state.received) == 1 and "503" in state.received[0]["text"]
    receiver.faults = Faults()

    async def delivered_and_recovered():
        texts = state.texts()
        return len(receiver.received) == 8 and any("recovered" in t for t in texts)

    await wait_for_async(delivered_and_recovered, timeout=30)
    texts = state.texts()
    assert len(texts) == 2 and "recovered" in texts[1]
    stored = rows(settings.database, "SELECT payload FROM tasks WHERE type = 'send_alert'")
    assert stored and not any(TOKEN in row["payload"] for row in stored)
    assert TOKEN not in caplog.text and "+7999" not in caplog.text


async def test_new_leads_are_told_where_subscribed_masked_or_in_full(
    settings, store, telegram, aiohttp_client
):
    state, url = telegram
    smtp = SmtpState()
    controller, port = start_smtp(smtp)
    email = {
        "host": "127.0.0.1",
        "port": port,
        "starttls": False,
        "sender": "lr@example.ru",
        "recipients": ["owner@example.ru"],
        "new_leads": ["*"],
        "full_contacts": True,
    }
    settings = configured(settings, url, email=email)
    settings.alerts.telegram.new_leads.append("Spring")  # campaigns match without case

    def create(tx):
        made = [LeadService.create_lead(tx, lead(n)) for n in (1, 2)]
        other = LeadService.create_lead(tx, NewLead(campaign_id="autumn", phone="+79990000001"))
        for lead_id, _ in made:
            raising.new_lead(tx, settings.alerts, lead_id, "spring")
        raising.new_lead(tx, settings.alerts, other[0], "autumn")

    await store.write(create)
    try:
        await aiohttp_client(dispatcher_app(settings))

        async def all_told():
            letters = [m for m in smtp.received if m["Subject"].startswith("New lead")]
            return len(new_leads(state)) == 2 and len(letters) == 3

        await wait_for_async(all_told, timeout=20)
    finally:
        controller.stop()
    told = new_leads(state)
    masked = {f"Phone: {mask_phone(lead(n).phone)}" for n in (1, 2)}
    assert {line for t in told for line in t.split("\n") if line.startswith("Phone")} == masked
    assert not any("+7999123450" in t for t in state.texts())  # masked in Telegram
    bodies = [m.get_content() for m in smtp.received if m["Subject"].startswith("New lead")]
    assert sorted(b.split("Phone: ")[1][:12] for b in bodies) == [
        "+79990000001",
        "+79991234501",
        "+79991234502",
    ]  # in full by e-mail, every campaign ("*")


def new_leads(state: TelegramState) -> list[str]:
    return [t for t in state.texts() if t.startswith("<b>New lead")]


async def test_the_stalled_queue_is_told_with_the_dispatcher_down(
    settings, store, telegram, aiohttp_client
):
    state, url = telegram
    settings = configured(settings, url, stalled_after_minutes=0.01)
    task_id = await store.write(lambda tx: tx.tasks.enqueue(SendToCrm(), delay=-120))
    await aiohttp_client(dashboard_app(settings))  # no dispatcher runs

    async def told():
        return any("stalled" in t for t in state.texts())

    await wait_for_async(told, timeout=20)
    await store.write(lambda tx: tx.tasks.complete(task_id, {}))

    async def recovered():
        return any("recovered" in t for t in state.texts())

    await wait_for_async(recovered, timeout=20)
    texts = state.texts()
    assert len(texts) == 2 and "stalled" in texts[0]
    kinds = rows(settings.database, "SELECT type FROM tasks")
    assert [k["type"] for k in kinds] == [TaskType.SEND_TO_CRM]  # sent without the queue


async def test_ingest_queues_a_new_lead_alert_that_names_the_lead_not_the_person(
    settings, telegram, aiohttp_client
):
    _, url = telegram
    settings = configured(settings, url)
    settings.alerts.telegram.new_leads.append("*")
    ingest = await aiohttp_client(ingest_app(settings))
    body = {"campaign_id": "spring", "phone": "+79991112233", "name": "Anna"}
    answer = await (await ingest.post("/api/v1/leads", json=body)).json()
    alerts = rows(settings.database, "SELECT lead_id, payload FROM tasks WHERE type = 'send_alert'")
    assert [a["lead_id"] for a in alerts] == [answer["lead_id"]]
    assert "+7999" not in alerts[0]["payload"] and "Anna" not in alerts[0]["payload"]
    again = await ingest.post("/api/v1/leads", json=body)  # a repeat is not a new lead
    assert again.status == 200
    assert len(rows(settings.database, "SELECT id FROM tasks WHERE type = 'send_alert'")) == 1
