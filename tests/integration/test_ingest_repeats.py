"""The same client sending the form again soon after is one lead, not a second CRM deal."""

import json

import pytest

from common.config import Settings
from services.ingest.app import create_app
from tests.helpers import execute, rows


async def test_a_repeat_is_an_event_on_the_first_lead(ingest, db_path):
    first = await (await ingest.post("/api/v1/leads", json={"phone": "+79161234567"})).json()
    body = {"phone": "8 916 123-45-67", "comment": "я уже писал", "campaign_id": "default"}
    resp = await ingest.post("/api/v1/leads", json=body)
    answer = await resp.json()
    assert resp.status == 200
    assert answer == {
        "lead_id": first["lead_id"],
        "task_id": None,
        "status": "repeat",
        "repeat": True,
    }
    assert len(rows(db_path, "SELECT * FROM leads")) == 1
    assert len(rows(db_path, "SELECT * FROM tasks")) == 1  # one send_to_crm: one CRM deal
    events = rows(db_path, "SELECT type, data FROM events ORDER BY position")
    assert [e["type"] for e in events] == ["LEAD_CREATED", "LEAD_REPEATED"]
    assert json.loads(events[1]["data"])["comment"] == "я уже писал"

    by_email = {"email": "ivan@example.ru", "phone": "+79160000099"}
    other = await (await ingest.post("/api/v1/leads", json=by_email)).json()
    again = await (await ingest.post("/api/v1/leads", json={"email": "ivan@EXAMPLE.RU"})).json()
    assert other["status"] == "new" and again["lead_id"] == other["lead_id"]


async def test_another_campaign_is_another_lead(ingest, db_path):
    await ingest.post("/api/v1/leads", json={"phone": "+79161234567", "campaign_id": "a"})
    resp = await ingest.post("/api/v1/leads", json={"phone": "+79161234567", "campaign_id": "b"})
    assert (await resp.json())["status"] == "new"
    assert len(rows(db_path, "SELECT * FROM leads")) == 2


async def test_a_campaign_is_the_same_whatever_its_case(ingest, db_path):
    """Tilda lower-cases the UTM it keeps, so `Summer` from a JSON form and `summer` from a
    Tilda form are one campaign."""
    await ingest.post("/api/v1/leads", json={"phone": "+79161234567", "campaign_id": "Summer"})
    resp = await ingest.post(
        "/api/v1/leads", json={"phone": "+79161234567", "campaign_id": "summer"}
    )
    assert (await resp.json())["status"] == "repeat"
    assert [r["campaign_id"] for r in rows(db_path, "SELECT campaign_id FROM leads")] == ["Summer"]


@pytest.mark.parametrize(
    "ingest_settings", [{"repeat_check_off": ["Quiz"]}, {"repeat_window_minutes": 0}]
)
async def test_repeat_check_can_be_switched_off(aiohttp_client, db_path, ingest_settings):
    settings = Settings(database=db_path, ingest={"rate_limit_per_minute": 1000} | ingest_settings)
    client = await aiohttp_client(create_app(settings))
    for _ in range(2):
        resp = await client.post(
            "/api/v1/leads", json={"phone": "+79161234567", "campaign_id": "quiz"}
        )
        assert (await resp.json())["status"] == "new"
    assert len(rows(db_path, "SELECT * FROM leads")) == 2


async def test_after_the_window_it_is_a_new_lead(ingest, db_path):
    await ingest.post("/api/v1/leads", json={"phone": "+79161234567"})
    # The first lead is 31 minutes old (its row, as the window query reads it).
    execute(db_path, "UPDATE leads SET created_at = '2000-01-01T00:00:00.000000Z'")
    resp = await ingest.post("/api/v1/leads", json={"phone": "+79161234567"})
    assert (await resp.json())["status"] == "new"


async def test_an_email_in_another_case_is_the_same_client(ingest, db_path):
    """`Ivan@x.ru` and `ivan@x.ru` are one person: email-validator keeps the local part's case,
    the repeat check compares without it."""
    first = await (await ingest.post("/api/v1/leads", json={"email": "Ivan.Petrov@x.ru"})).json()
    again = await ingest.post("/api/v1/leads", json={"email": "ivan.petrov@X.RU", "name": "Иван"})
    answer = await again.json()
    assert first["status"] == "new" and answer["status"] == "repeat"
    assert answer["lead_id"] == first["lead_id"]
    [kept] = rows(db_path, "SELECT email, email_key FROM leads")
    assert (kept["email"], kept["email_key"]) == ("Ivan.Petrov@x.ru", "ivan.petrov@x.ru")
    other = await ingest.post("/api/v1/leads", json={"email": "ivan.petrova@x.ru"})
    assert (await other.json())["status"] == "new"
