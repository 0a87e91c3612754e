"""A hostile pass over the webhooks process: the same delivery many times at once is counted
once on every CRM, and what a sender writes never reaches a log line unmasked."""

import asyncio
import json
import logging
import secrets

import pytest

from common.config import Settings
from common.logs import JsonFormatter
from common.signing import signed_headers
from services.webhooks.app import create_app
from tests.helpers import SECRET, crm_connections, rows
from tests.integration.test_webhooks import FORM, amo_form, b24_form, delivered_lead

AT_ONCE = 50


@pytest.fixture
async def hooks(aiohttp_client, database, b24):
    crm = crm_connections(b24.url + b24.path)
    crm["b24"]["rate_limit"] = 1000  # 50 deal reads at once, not 25 s of them
    settings = Settings(database=database, crm=crm)
    return await aiohttp_client(create_app(settings))


def generic_payment(crm_lead_id: str, message_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"type": "payment", "crm_lead_id": crm_lead_id, "amount": "10", "currency": "RUB"}
    ).encode()
    return body, signed_headers(SECRET, message_id, body) | {"Content-Type": "application/json"}


async def all_at_once(
    hooks, path: str, body: bytes | str, headers: dict[str, str], times: int = AT_ONCE
) -> list[str]:
    async def one() -> str:
        resp = await hooks.post(path, data=body, headers=headers)
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["status"])

    return await asyncio.gather(*(one() for _ in range(times)))


def payments(database: str) -> int:
    [row] = rows(database, "SELECT count(*) AS n FROM events WHERE type = 'PAYMENT_REGISTERED'")
    return int(row["n"])


async def test_one_amocrm_win_posted_50_times_at_once_is_paid_once(hooks, store, database):
    await delivered_lead(store, "amo", "888")
    path = "/api/v1/webhooks/crm/amo?token=hook-secret"
    answers = await all_at_once(hooks, path, amo_form(("888", "142", "10")), FORM)
    assert sorted(set(answers)) == ["duplicate", "ok"] and answers.count("ok") == 1
    assert payments(database) == 1
    [stats] = rows(database, "SELECT payments, revenue_minor FROM campaign_stats")
    assert (stats["payments"], stats["revenue_minor"]) == (1, 1000)


async def test_two_webhook_processes_given_one_win_25_times_each_pay_once(
    aiohttp_client, hooks, store, database, b24
):
    """Two hosts behind one balancer, one database: each app has its own store and writer."""
    other = await aiohttp_client(
        create_app(Settings(database=database, crm=crm_connections(b24.url + b24.path)))
    )
    await delivered_lead(store, "amo", "888")
    path = "/api/v1/webhooks/crm/amo?token=hook-secret"
    body = amo_form(("888", "142", "10"))
    both = await asyncio.gather(
        all_at_once(hooks, path, body, FORM, 25), all_at_once(other, path, body, FORM, 25)
    )
    answers = [answer for one in both for answer in one]
    assert answers.count("ok") == 1 and answers.count("duplicate") == 49
    assert payments(database) == 1


async def test_one_signed_payment_replayed_50_times_at_once_is_paid_once(hooks, store, database):
    await delivered_lead(store, "shop", "777")
    body, headers = generic_payment("777", "replayed-1")
    answers = await all_at_once(hooks, "/api/v1/webhooks/crm/shop", body, headers)
    assert answers.count("ok") == 1 and answers.count("duplicate") == AT_ONCE - 1
    assert payments(database) == 1


async def test_one_bitrix24_deal_posted_50_times_at_once_is_paid_once(hooks, store, database, b24):
    lead_id = await delivered_lead(store, "b24", "501")
    b24.add_deal(
        "77", STAGE_SEMANTIC_ID="S", OPPORTUNITY="2500.00", CURRENCY_ID="RUB", LEAD_ID="501"
    )
    answers = await all_at_once(hooks, "/api/v1/webhooks/crm/b24", b24_form("77"), FORM)
    assert answers.count("ok") == 1 and set(answers) == {"ok", "duplicate"}
    assert payments(database) == 1
    [lead] = rows(database, "SELECT id, status, payment_amount FROM leads")
    assert (lead["id"], lead["status"], lead["payment_amount"]) == (lead_id, "paid", "2500.00")
    open_tasks = (
        "SELECT count(*) AS n FROM tasks WHERE type = 'resolve_crm_deal' AND status != 'completed'"
    )
    assert rows(database, open_tasks) == [{"n": 0}]


async def test_a_payment_of_no_lead_posted_50_times_at_once_is_kept_once(hooks, database, b24):
    path = "/api/v1/webhooks/crm/amo?token=hook-secret"
    answers = await all_at_once(hooks, path, amo_form(("999", "142", "10")), FORM)
    assert set(answers) == {"unmatched"}
    b24.add_deal("55", STAGE_SEMANTIC_ID="S", OPPORTUNITY="700.00", CURRENCY_ID="RUB")
    answers = await all_at_once(hooks, "/api/v1/webhooks/crm/b24", b24_form("55"), FORM)
    assert set(answers) == {"unmatched"}
    kept = rows(database, "SELECT connection, crm_ref FROM unmatched_payments ORDER BY id")
    assert [(k["connection"], k["crm_ref"]) for k in kept] == [("amo", "999"), ("b24", "deal:55")]
    assert payments(database) == 0


@pytest.mark.parametrize(
    "event",
    [
        {"type": "lost", "crm_lead_id": "ivan.petrov@example.com +79161234567"},
        {
            "type": "payment",
            "crm_lead_id": "ivan.petrov@example.com +79161234567",
            "amount": "1",
            "currency": "RUB",
        },
        {"type": "ivan.petrov@example.com +79161234567"},
    ],
    ids=["lost", "unmatched", "type"],
)
async def test_what_a_sender_wrote_is_answered_but_not_logged(hooks, caplog, event):
    caplog.set_level(logging.INFO)
    body = json.dumps(event).encode()
    headers = signed_headers(SECRET, "m-log", body) | {"Content-Type": "application/json"}
    resp = await hooks.post("/api/v1/webhooks/crm/shop", data=body, headers=headers)
    assert resp.status == 200, await resp.text()
    assert "ivan.petrov@example.com" in (await resp.json())["reason"]  # the CRM is told why
    formatter = JsonFormatter("webhooks")
    [line] = [formatter.format(r) for r in caplog.records if r.msg == "webhook handled"]
    assert '"status"' in line
    for personal in ("ivan.petrov", "example.com", "9161234567"):
        assert personal not in line


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("crm_lead_id", True, "must be a string"),
        ("lead_id", False, "must be a string"),
        ("crm_lead_id", "30\u00000001", "NUL"),
        ("lead_id", "\u0000", "NUL"),
    ],
    ids=["true", "false", "nul in crm_lead_id", "nul in lead_id"],
)
async def test_a_generic_payment_naming_no_usable_lead_is_a_422_on_both_backends(
    hooks, database, field, value, said
):
    """`true` was looked up as the lead "True" and kept unmatched; a NUL was kept on SQLite
    and refused with a 400 by PostgreSQL."""
    body = json.dumps({"type": "payment", field: value, "amount": "1", "currency": "RUB"})
    headers = signed_headers(SECRET, "m-id", body.encode()) | {"Content-Type": "application/json"}
    resp = await hooks.post("/api/v1/webhooks/crm/shop", data=body, headers=headers)
    assert resp.status == 422, await resp.text()
    answer = await resp.json()
    assert answer["detail"][0]["field"] == field and said in answer["message"]
    assert rows(database, "SELECT id FROM unmatched_payments") == []


async def test_a_signed_delivery_with_a_webhook_id_of_3000_characters_is_refused(hooks, database):
    """PostgreSQL's unique index on (connection, message_id) takes 2,704 bytes a row: such an
    id answered 503 there, naming the index, and was kept on SQLite."""
    body = json.dumps({"type": "payment", "crm_lead_id": "1", "amount": "1", "currency": "RUB"})
    message_id = secrets.token_hex(1500)  # random: PostgreSQL cannot compress it below the limit
    headers = signed_headers(SECRET, message_id, body.encode())
    resp = await hooks.post(
        "/api/v1/webhooks/crm/shop",
        data=body,
        headers=headers | {"Content-Type": "application/json"},
    )
    assert resp.status == 401, await resp.text()
    assert "webhook-id is longer than 256" in (await resp.json())["message"]
    assert rows(database, "SELECT id FROM webhook_receipts") == []
