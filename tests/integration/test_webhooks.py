"""The webhooks service through aiohttp_client, on a real database and a Bitrix24 emulator."""

import json
from urllib.parse import urlencode

import pytest

from common.config import Settings
from common.events import LeadSentToCrm
from common.leads import LeadService
from common.model import NewLead
from common.signing import signed_headers
from services.webhooks.app import create_app
from tests.emulators.faults import Faults
from tests.helpers import SECRET, ago, crm_connections, moscow, rows, snapshot, stored


@pytest.fixture
async def hooks(aiohttp_client, db_path, b24):
    settings = Settings(database=db_path, crm=crm_connections(b24.url + b24.path))
    return await aiohttp_client(create_app(settings))


async def delivered_lead(store, connection: str, crm_lead_id: str, **fields) -> str:
    lead = NewLead(**{"campaign_id": "c1", "phone": "+79161234567"} | fields)
    lead_id, _ = await store.write(lambda tx: LeadService.create_lead(tx, lead))
    sent = LeadSentToCrm(connection, crm_lead_id=crm_lead_id)
    await store.write(lambda tx: LeadService.record(tx, lead_id, sent))
    return lead_id


def amo_form(*leads) -> str:
    fields = {"account[subdomain]": "shop"}
    for n, (crm_id, status, price) in enumerate(leads):
        fields |= {
            f"leads[status][{n}][id]": crm_id,
            f"leads[status][{n}][status_id]": status,
            f"leads[status][{n}][price]": price,
        }
    return urlencode(fields)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def post_amo(hooks, body: str, token="hook-secret"):
    return await hooks.post(f"/api/v1/webhooks/crm/amo?token={token}", data=body, headers=FORM)


async def test_amocrm_won_deal_is_paid_once(hooks, store):
    lead_id = await delivered_lead(store, "amo", "30000001")
    resp = await post_amo(hooks, amo_form(("30000001", "142", "15000")))
    assert resp.status == 200
    answer = await resp.json()
    assert answer["status"] == "ok" and answer["lead_id"] == lead_id
    [lead] = rows(store.location, "SELECT * FROM leads")
    assert (lead["status"], lead["payment_amount"], lead["payment_currency"]) == (
        "paid",
        "15000.00",
        "RUB",
    )
    [task] = rows(store.location, "SELECT * FROM tasks WHERE type = 'send_to_yandex_direct'")
    assert task["id"] == answer["yandex_direct_task_id"]
    [stats] = rows(store.location, "SELECT * FROM campaign_stats")
    assert (stats["payments"], stats["revenue_minor"]) == (1, 1_500_000)

    before = snapshot(store.location)
    again = await post_amo(hooks, amo_form(("30000001", "142", "15000")))
    assert again.status == 200 and (await again.json())["status"] == "duplicate"
    after = snapshot(store.location)
    receipts = after.pop("webhook_receipts")
    assert len(receipts) == len(before.pop("webhook_receipts")) + 1  # kept for audit
    assert after == before
    assert len(rows(store.location, "SELECT * FROM events WHERE type = 'PAYMENT_REGISTERED'")) == 1


async def test_amocrm_payload_with_two_leads(hooks, store):
    won = await delivered_lead(store, "amo", "30000001")
    lost = await delivered_lead(store, "amo", "30000002")
    body = amo_form(("30000001", "142", "500"), ("30000002", "143", ""), ("30000003", "99", ""))
    answer = await (await post_amo(hooks, body)).json()
    statuses = [r["status"] for r in answer["results"]]
    assert statuses == ["ok", "ok", "ignored"]
    by_id = {r["id"]: r["status"] for r in rows(store.location, "SELECT id, status FROM leads")}
    assert by_id == {won: "paid", lost: "lost"}


async def test_a_won_deal_of_no_lead_of_ours_is_kept_unmatched_once(hooks, store):
    resp = await post_amo(hooks, amo_form(("404404", "142", "10")))
    answer = await resp.json()
    assert resp.status == 200 and answer["status"] == "unmatched"
    assert "404404" in answer["reason"]
    [receipt] = rows(store.location, "SELECT * FROM webhook_receipts")
    assert receipt["outcome"] == "unmatched" and "404404" in receipt["body"]
    assert rows(store.location, "SELECT * FROM events") == []
    [kept] = rows(store.location, "SELECT * FROM unmatched_payments")
    assert (kept["connection"], kept["crm_ref"], kept["amount"]) == ("amo", "404404", "10.00")
    again = await (await post_amo(hooks, amo_form(("404404", "142", "10")))).json()
    assert again["unmatched_payment_id"] == kept["id"]
    assert len(rows(store.location, "SELECT * FROM unmatched_payments")) == 1
    metrics = await (await hooks.get("/metrics")).text()
    assert 'leadrelay_webhooks_total{crm="amo",status="unmatched"} 2.0' in metrics


async def test_a_lost_deal_of_no_lead_of_ours_is_ignored(hooks, store):
    answer = await (await post_amo(hooks, amo_form(("404404", "143", "0")))).json()
    assert answer["status"] == "ignored"
    assert rows(store.location, "SELECT * FROM unmatched_payments") == []


async def test_a_won_bitrix24_deal_without_lead_id_is_kept_unmatched(hooks, store, b24):
    b24.add_deal("90", STAGE_SEMANTIC_ID="S", OPPORTUNITY="700.00", CURRENCY_ID="RUB")
    resp = await hooks.post("/api/v1/webhooks/crm/b24", data=b24_form("90"), headers=FORM)
    assert (await resp.json())["status"] == "unmatched"
    [kept] = rows(store.location, "SELECT * FROM unmatched_payments")
    assert (kept["crm_ref"], kept["amount"]) == ("deal:90", "700.00")


async def test_unknown_connection_is_404(hooks):
    resp = await hooks.post("/api/v1/webhooks/crm/nope", data="x=1", headers=FORM)
    assert resp.status == 404 and (await resp.json())["error"] == "not_found"


# What amoCRM posts for events an admin may tick beside "lead status changed" (Kommo's
# webhooks page, developers.kommo.com/docs/webhooks-general: contacts, companies, tasks,
# notes; each body names its entity and action, and carries account[...]).
UNUSED = {
    "contact": {"contacts[add][0][id]": "501", "contacts[add][0][name]": "Иван"},
    "note": {"contacts[note][0][note][note_type]": "4", "contacts[note][0][note][text]": "x"},
    "task": {"task[update][0][id]": "77", "task[update][0][text]": "перезвонить"},
    "company": {"companies[delete][0][id]": "9"},
}


@pytest.mark.parametrize("kind", list(UNUSED))
async def test_amocrm_events_we_do_not_use_are_ignored_not_refused(hooks, store, kind):
    """amoCRM switches a hook off after more than 100 answers outside 2xx in two hours, and
    the payments with it: an authentic event we do not use is answered 200 and kept."""
    await delivered_lead(store, "amo", "1")
    body = urlencode(UNUSED[kind] | {"account[subdomain]": "shop", "account[id]": "29000000"})
    resp = await post_amo(hooks, body)
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert answer["status"] == "ignored" and "do not use" in answer["reason"]
    [receipt] = rows(store.location, "SELECT * FROM webhook_receipts")
    assert receipt["outcome"] == "ignored" and "29000000" in receipt["body"]
    assert [r["status"] for r in rows(store.location, "SELECT status FROM leads")] == [
        "sent_to_crm"
    ]
    assert (await post_amo(hooks, body, token="nope")).status == 401


def b24_body(event: str, deal_id: str | None) -> str:
    fields = {"event": event, "auth[application_token]": "app-token"}
    return urlencode(fields | ({"data[FIELDS][ID]": deal_id} if deal_id is not None else {}))


BAD = [
    ("amo-no-token", "amo", None, amo_form(("1", "142", "1")), 401, "unauthorized"),
    ("amo-wrong-token", "amo", "nope", amo_form(("1", "142", "1")), 401, "unauthorized"),
    ("amo-negative", "amo", "hook-secret", amo_form(("1", "142", "-1")), 422, "invalid_field"),
    ("amo-nan", "amo", "hook-secret", amo_form(("1", "142", "NaN")), 422, "invalid_field"),
    ("amo-huge", "amo", "hook-secret", amo_form(("1", "142", "1e40")), 422, "invalid_field"),
    ("amo-no-leads", "amo", "hook-secret", "foo=bar", 400, "malformed"),
    ("amo-bad-id", "amo", "hook-secret", amo_form(("x", "142", "1")), 422, "invalid_field"),
    ("amo-not-utf8", "amo", "hook-secret", b"leads%5B=\xff", 400, "malformed"),
    # Found answering 500: an index past Python's 4300-digit int conversion limit.
    (
        "amo-huge-index",
        "amo",
        "hook-secret",
        urlencode({f"leads[status][{'9' * 5000}][id]": "1", "account[id]": "1"}),
        422,
        "invalid_field",
    ),
    # Ids of another shape were taken: "²" is a digit to str.isdigit (kept as an unmatched
    # payment), and neither CRM has ids of 31 digits (a Bitrix24 deal read that cannot be).
    ("amo-superscript-id", "amo", "hook-secret", amo_form(("²", "142", "5")), 422, "invalid_field"),
    (
        "amo-delete-id-1e30",
        "amo",
        "hook-secret",
        urlencode({"leads[delete][0][id]": str(10**30), "account[id]": "1"}),
        422,
        "invalid_field",
    ),
    ("b24-arabic-id", "b24", None, b24_body("ONCRMDEALUPDATE", "٣"), 422, "invalid_field"),
    ("b24-id-1e30", "b24", None, b24_body("ONCRMDEALUPDATE", str(10**30)), 422, "invalid_field"),
    (
        "b24-delete-id-1e30",
        "b24",
        None,
        b24_body("ONCRMDEALDELETE", str(10**30)),
        422,
        "invalid_field",
    ),
    (
        "b24-wrong-token",
        "b24",
        None,
        urlencode(
            {"event": "ONCRMDEALUPDATE", "data[FIELDS][ID]": "1", "auth[application_token]": "x"}
        ),
        401,
        "unauthorized",
    ),
]


@pytest.mark.parametrize(
    ("name", "crm", "token", "body", "status", "code"), BAD, ids=[b[0] for b in BAD]
)
async def test_bad_webhooks_write_nothing(hooks, store, name, crm, token, body, status, code):
    await delivered_lead(store, "amo", "1")
    before = snapshot(store.location)
    query = f"?token={token}" if token else ""
    resp = await hooks.post(f"/api/v1/webhooks/crm/{crm}{query}", data=body, headers=FORM)
    assert resp.status == status
    assert (await resp.json())["error"] == code
    assert snapshot(store.location) == before


def signed(payload: dict, message_id: str = "msg_1", secret: str = SECRET):
    body = json.dumps(payload).encode()
    return body, signed_headers(secret, message_id, body) | {"Content-Type": "application/json"}


async def test_generic_payment_and_redelivery(hooks, store):
    lead_id = await delivered_lead(store, "shop", "ext-1", yclid="4781")
    body, headers = signed(
        {"type": "payment", "lead_id": lead_id, "amount": 990.5, "currency": "RUB"}
    )
    first = await hooks.post("/api/v1/webhooks/crm/shop", data=body, headers=headers)
    assert (await first.json())["status"] == "ok"
    before = snapshot(store.location)
    again = await hooks.post("/api/v1/webhooks/crm/shop", data=body, headers=headers)
    assert again.status == 200 and (await again.json())["status"] == "duplicate"
    assert snapshot(store.location) == before  # not even a second receipt


async def test_generic_by_crm_lead_id_and_bad_signature(hooks, store):
    await delivered_lead(store, "shop", "ext-7")
    body, headers = signed(
        {"type": "payment", "crm_lead_id": "ext-7", "amount": "10", "currency": "USD"},
        secret="whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY",
    )
    before = snapshot(store.location)
    resp = await hooks.post("/api/v1/webhooks/crm/shop", data=body, headers=headers)
    assert resp.status == 401 and (await resp.json())["error"] == "invalid_signature"
    assert snapshot(store.location) == before
    body, headers = signed(
        {"type": "payment", "crm_lead_id": "ext-7", "amount": "10", "currency": "USD"},
        message_id="msg_2",
    )
    answer = await (
        await hooks.post("/api/v1/webhooks/crm/shop", data=body, headers=headers)
    ).json()
    assert answer["status"] == "ok"


def b24_form(deal_id: str) -> str:
    return urlencode(
        {
            "event": "ONCRMDEALUPDATE",
            "data[FIELDS][ID]": deal_id,
            "auth[application_token]": "app-token",
        }
    )


async def test_bitrix24_deal_is_read_back_and_paid(hooks, store, b24):
    closed = ago(days=9)
    lead_id = await delivered_lead(store, "b24", "501")
    b24.add_deal(
        "77",
        STAGE_SEMANTIC_ID="S",
        OPPORTUNITY="2500.00",
        CURRENCY_ID="RUB",
        LEAD_ID="501",
        CLOSEDATE=moscow(closed),
    )
    resp = await hooks.post("/api/v1/webhooks/crm/b24", data=b24_form("77"), headers=FORM)
    answer = await resp.json()
    assert answer["status"] == "ok" and answer["lead_id"] == lead_id
    [lead] = rows(store.location, "SELECT * FROM leads")
    assert (lead["status"], lead["payment_amount"], lead["paid_at"]) == (
        "paid",
        "2500.00",
        stored(closed),
    )
    [resolve] = rows(store.location, "SELECT * FROM tasks WHERE type = 'resolve_crm_deal'")
    assert resolve["status"] == "completed"


async def test_bitrix24_notice_survives_a_failing_deal_read(hooks, store, b24):
    await delivered_lead(store, "b24", "501")
    b24.faults = Faults(status=503)
    resp = await hooks.post("/api/v1/webhooks/crm/b24", data=b24_form("78"), headers=FORM)
    answer = await resp.json()
    assert resp.status == 200 and answer["status"] == "queued"
    [task] = rows(store.location, "SELECT * FROM tasks WHERE type = 'resolve_crm_deal'")
    assert (task["id"], task["status"]) == (answer["task_id"], "pending")
    assert json.loads(task["payload"])["deal_id"] == "78"
    [receipt] = rows(store.location, "SELECT * FROM webhook_receipts")
    assert receipt["outcome"] == "queued"


async def test_lost_twice_is_a_duplicate_but_a_reopened_deal_can_be_won(hooks, store):
    lead_id = await delivered_lead(store, "amo", "30000009")
    first = await (await post_amo(hooks, amo_form(("30000009", "143", "")))).json()
    again = await (await post_amo(hooks, amo_form(("30000009", "143", "")))).json()
    won = await (await post_amo(hooks, amo_form(("30000009", "142", "700")))).json()
    assert [first["status"], again["status"], won["status"]] == ["ok", "duplicate", "ok"]
    [lead] = rows(store.location, "SELECT status FROM leads WHERE id = ?", (lead_id,))
    assert lead["status"] == "paid"


async def test_bitrix24_payment_time_is_when_the_deal_was_won(hooks, store, b24):
    """crm.deal.get gives MOVED_TIME (when the deal entered its stage) beside CLOSEDATE,
    a date a manager types, often the planned one (Bitrix24 REST docs, crm.deal fields)."""
    won = ago(days=8, hours=3)
    await delivered_lead(store, "b24", "501")
    b24.add_deal(
        "78",
        STAGE_SEMANTIC_ID="S",
        OPPORTUNITY="900.00",
        CURRENCY_ID="RUB",
        LEAD_ID="501",
        CLOSEDATE=moscow(ago(days=-1)),  # planned for tomorrow
        MOVED_TIME=moscow(won),
        DATE_MODIFY=moscow(ago(days=7)),
    )
    resp = await hooks.post("/api/v1/webhooks/crm/b24", data=b24_form("78"), headers=FORM)
    assert (await resp.json())["status"] == "ok"
    [lead] = rows(store.location, "SELECT paid_at FROM leads")
    assert lead["paid_at"] == stored(won)


async def test_a_connection_cannot_pay_a_lead_another_crm_holds(hooks, store):
    """The shop's secret names our lead id of a lead delivered to amoCRM: not its to pay."""
    amo_lead = await delivered_lead(store, "amo", "30000077")
    body, headers = signed(
        {"type": "payment", "lead_id": amo_lead, "amount": "500", "currency": "RUB"}
    )
    answer = await (
        await hooks.post("/api/v1/webhooks/crm/shop", data=body, headers=headers)
    ).json()
    assert answer["status"] == "unmatched"  # kept for a person, not applied
    [lead] = rows(store.location, "SELECT status FROM leads WHERE id = ?", (amo_lead,))
    assert lead["status"] == "sent_to_crm"
    body, headers = signed({"type": "lost", "lead_id": amo_lead}, message_id="msg_lost")
    answer = await (
        await hooks.post("/api/v1/webhooks/crm/shop", data=body, headers=headers)
    ).json()
    assert answer["status"] == "ignored"


async def test_bitrix24_application_token_is_not_kept_in_receipts(hooks, store, b24):
    await delivered_lead(store, "b24", "501")
    b24.add_deal("79", STAGE_SEMANTIC_ID="S", OPPORTUNITY="100", CURRENCY_ID="RUB", LEAD_ID="501")
    resp = await hooks.post("/api/v1/webhooks/crm/b24", data=b24_form("79"), headers=FORM)
    assert (await resp.json())["status"] == "ok"
    [receipt] = rows(store.location, "SELECT body FROM webhook_receipts")
    assert "app-token" not in receipt["body"]
    assert "auth%5Bapplication_token%5D=%5Bredacted%5D" in receipt["body"]
    assert "data%5BFIELDS%5D%5BID%5D=79" in receipt["body"]  # the rest is kept to debug with
