"""Lead → CRM → won-deal webhook → one Metrica row, with real processes and emulators."""

import json
import sqlite3
from urllib.parse import urlencode

import aiohttp

from common.signing import signed_headers
from tests.e2e.system import AMO_WEBHOOK_TOKEN, B24_APP_TOKEN
from tests.helpers import SECRET, rows, snapshot, wait_for_async

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def post_lead(system, campaign: str, n: int = 0, **fields) -> str:
    body = {"phone": f"+7916{n:07d}", "campaign_id": campaign} | fields
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{system.services['ingest'].url}/api/v1/leads", json=body) as r:
            assert r.status == 200, await r.text()
            return (await r.json())["lead_id"]


async def crm_id_of(system, lead_id: str) -> str:
    async def delivered():
        found = rows(system.db_path, "SELECT * FROM leads WHERE id = ?", (lead_id,))
        return found and found[0]["status"] in ("sent_to_crm", "merged") and found[0]["crm_lead_id"]

    return await wait_for_async(delivered, timeout=20)


async def webhook(system, crm: str, data, headers=None, query: str = "") -> tuple[int, dict]:
    url = f"{system.services['webhooks'].url}/api/v1/webhooks/crm/{crm}{query}"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=data, headers=headers or FORM) as resp:
            return resp.status, await resp.json()


async def conversions(system, count: int) -> None:
    async def arrived():
        return len(system.metrica.received) >= count

    await wait_for_async(arrived, timeout=30)


async def pay_generic(system, lead_id: str, message_id: str, amount: str) -> tuple[int, dict]:
    """A signed payment webhook from the generic CRM."""
    payment = {"type": "payment", "lead_id": lead_id, "amount": amount, "currency": "RUB"}
    body = json.dumps(payment).encode()
    headers = signed_headers(SECRET, message_id, body) | {"Content-Type": "application/json"}
    return await webhook(system, "shop", body, headers)


def events_of(system, kind: str) -> list:
    return rows(system.db_path, "SELECT * FROM events WHERE type = ?", (kind,))


def amo_won(crm_id: str, price: str) -> str:
    return urlencode(
        {
            "leads[status][0][id]": crm_id,
            "leads[status][0][status_id]": "142",
            "leads[status][0][pipeline_id]": "1",
            "leads[status][0][price]": price,
            "account[subdomain]": "shop",
        }
    )


async def test_amocrm_money_loop_and_repeats(system):
    system.config()
    await system.start("ingest", "dispatcher", "webhooks")
    lead_id = await post_lead(system, "amo-campaign", yclid="4781234567890")
    crm_id = await crm_id_of(system, lead_id)

    query = f"?token={AMO_WEBHOOK_TOKEN}"
    status, answer = await webhook(system, "amo", amo_won(crm_id, "15000"), query=query)
    assert status == 200 and answer["status"] == "ok" and answer["lead_id"] == lead_id
    await conversions(system, 1)
    [row] = system.metrica.received
    assert (row["Yclid"], row["Target"], row["Price"], row["Currency"]) == (
        "4781234567890",
        "paid_order",
        "15000.00",
        "RUB",
    )

    async def recorded():
        return events_of(system, "YANDEX_DIRECT_CONVERSION")

    [event] = await wait_for_async(recorded)
    assert json.loads(event["data"])["upload_id"] == "9001"

    before = snapshot(system.db_path)
    status, again = await webhook(system, "amo", amo_won(crm_id, "15000"), query=query)
    assert status == 200 and again["status"] == "duplicate"
    status, denied = await webhook(system, "amo", amo_won(crm_id, "1"), query="?token=wrong")
    assert status == 401 and denied["error"] == "unauthorized"
    after = snapshot(system.db_path)
    assert {k: v for k, v in after.items() if k != "webhook_receipts"} == {
        k: v for k, v in before.items() if k != "webhook_receipts"
    }
    assert len(system.metrica.uploads) == 1
    [stats] = rows(system.db_path, "SELECT * FROM campaign_stats")
    assert (stats["payments"], stats["revenue_minor"], stats["conversions_uploaded"]) == (
        1,
        1_500_000,
        1,
    )
    assert system.cli("verify").returncode == 0


async def test_bitrix24_money_loop_reads_the_deal(system):
    system.config()
    await system.start("ingest", "dispatcher", "webhooks")
    lead_id = await post_lead(system, "b24-campaign", ym_client_id="1700000000123456")
    crm_id = await crm_id_of(system, lead_id)
    system.b24.add_deal(
        "900", STAGE_SEMANTIC_ID="S", OPPORTUNITY="7300.50", CURRENCY_ID="RUB", LEAD_ID=crm_id
    )
    form = urlencode(
        {
            "event": "ONCRMDEALUPDATE",
            "data[FIELDS][ID]": "900",
            "auth[application_token]": B24_APP_TOKEN,
        }
    )
    status, answer = await webhook(system, "b24", form)
    assert status == 200 and answer["lead_id"] == lead_id
    await conversions(system, 1)
    [row] = system.metrica.received
    assert (row["ClientId"], row["Price"]) == ("1700000000123456", "7300.50")
    assert system.cli("verify").returncode == 0


async def test_bitrix24_deal_read_later_when_bitrix_is_down(system):
    system.config()
    await system.start("ingest", "dispatcher", "webhooks")
    lead_id = await post_lead(system, "b24-campaign", yclid="555")
    crm_id = await crm_id_of(system, lead_id)
    system.b24.add_deal(
        "901", STAGE_SEMANTIC_ID="S", OPPORTUNITY="100", CURRENCY_ID="RUB", LEAD_ID=crm_id
    )
    system.b24.faults.status = 503
    form = urlencode(
        {
            "event": "ONCRMDEALUPDATE",
            "data[FIELDS][ID]": "901",
            "auth[application_token]": B24_APP_TOKEN,
        }
    )
    status, answer = await webhook(system, "b24", form)
    assert status == 200 and answer["status"] == "queued"
    system.b24.faults.status = None
    # Pull the task's first try forward rather than waiting out the webhooks' window.
    conn = sqlite3.connect(system.db_path)
    conn.execute(
        "UPDATE tasks SET run_after = '2000-01-01T00:00:00.000000Z' WHERE type = 'resolve_crm_deal'"
    )
    conn.commit()
    conn.close()
    await conversions(system, 1)
    assert system.metrica.received[0]["Yclid"] == "555"


async def test_generic_money_loop_and_twenty_conversions_in_one_upload(system):
    system.config()
    await system.start("ingest", "dispatcher", "webhooks")
    ids = [await post_lead(system, "shop-campaign", n, yclid=f"77{n:03d}") for n in range(20)]
    for lead_id in ids:
        await crm_id_of(system, lead_id)
    assert system.services["dispatcher"].stop() == 0  # payments pile up while it is down

    for n, lead_id in enumerate(ids):
        status, answer = await pay_generic(system, lead_id, f"pay-{n}", f"{100 + n}.25")
        assert status == 200 and answer["status"] == "ok"
        if n == 0:  # a redelivery of the same webhook-id changes nothing
            status, again = await pay_generic(system, lead_id, f"pay-{n}", f"{100 + n}.25")
            assert again["status"] == "duplicate"

    await system.start("dispatcher")
    await conversions(system, 20)
    assert len(system.metrica.uploads) == 1
    assert sorted(r["Yclid"] for r in system.metrica.uploads[0]) == [
        f"77{n:03d}" for n in range(20)
    ]

    async def all_recorded():
        found = rows(
            system.db_path,
            "SELECT count(*) AS n FROM events WHERE type = 'YANDEX_DIRECT_CONVERSION'",
        )
        return found[0]["n"] == 20

    await wait_for_async(all_recorded)
    assert system.cli("verify").returncode == 0


async def test_lead_without_ids_is_skipped_with_a_reason(system):
    system.config()
    await system.start("ingest", "dispatcher", "webhooks")
    lead_id = await post_lead(system, "shop-campaign")
    await crm_id_of(system, lead_id)
    assert (await pay_generic(system, lead_id, "pay-x", "5"))[0] == 200

    async def skipped():
        return events_of(system, "YANDEX_CONVERSION_SKIPPED")

    [event] = await wait_for_async(skipped)
    assert "neither a yclid nor a Metrica ClientID" in json.loads(event["data"])["reason"]
    assert system.metrica.uploads == []


async def test_metrica_refusal_fails_the_conversion_with_its_message(system):
    system.metrica.faults.status = 400
    system.config()
    await system.start("ingest", "dispatcher", "webhooks")
    lead_id = await post_lead(system, "shop-campaign", yclid="123")
    await crm_id_of(system, lead_id)
    assert (await pay_generic(system, lead_id, "pay-f", "5"))[0] == 200

    async def failed():
        return events_of(system, "YANDEX_CONVERSION_FAILED")

    [event] = await wait_for_async(failed)
    assert "Yandex Metrica answered HTTP 400" in json.loads(event["data"])["reason"]
    [task] = rows(system.db_path, "SELECT * FROM tasks WHERE type = 'send_to_yandex_direct'")
    assert (task["status"], task["attempts"]) == ("failed", 1)  # a 4xx is not retried
    [lead] = rows(system.db_path, "SELECT conversion_status FROM leads")
    assert lead["conversion_status"] == "failed"


async def test_amocrm_gets_a_note_and_merged_leads_pay_the_first(system):
    """Kommo's duplicate control joins a repeat client's lead to the CRM lead they already
    have (`merged: true`, the same id); the manager reads the client's message in a note."""
    system.amo.duplicate_control = True
    system.config(extra='[routing]\ndefault_crm = "amo"')
    await system.start("ingest", "webhooks", "dispatcher")
    quiz = {"comment": "Позвоните вечером", "Сколько комнат": "3"}
    first = await post_lead(system, "amo-campaign", n=7, yclid="111", **quiz)
    crm_id = await crm_id_of(system, first)
    # Another campaign (not a repeat for us), the same client (a duplicate for amoCRM).
    second = await post_lead(system, "autumn-sale", n=7, yclid="222")
    assert await crm_id_of(system, second) == crm_id
    sent = {e["stream_id"]: json.loads(e["data"]) for e in events_of(system, "LEAD_SENT_TO_CRM")}
    assert "merged" not in sent[first] and sent[second]["merged"] is True

    texts = [note["params"]["text"] for note in system.amo.notes]
    assert "Комментарий: Позвоните вечером" in texts[0] and "Сколько комнат: 3" in texts[0]
    assert all(note["entity_id"] == int(crm_id) for note in system.amo.notes)

    query = f"?token={AMO_WEBHOOK_TOKEN}"
    status, answer = await webhook(system, "amo", amo_won(crm_id, "5000"), query=query)
    assert status == 200 and answer["lead_id"] == first
    by_id = {r["id"]: r["status"] for r in rows(system.db_path, "SELECT id, status FROM leads")}
    assert by_id == {first: "paid", second: "merged"}  # shown merged into the first
