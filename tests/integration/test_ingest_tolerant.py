"""A lead with a usable phone or email is never refused for a bad optional field: the bad
value is left out (or cut, when only too long), and the reason is kept on the lead."""

import json

import pytest

from tests.helpers import rows

PHONE = {"phone": "+79990000002"}


@pytest.mark.parametrize(
    ("body", "field", "kept"),
    [
        (PHONE | {"email": "ivan@"}, "email", {"phone": "+79990000002", "email": None}),
        ({"phone": "12", "email": "ivan@example.ru"}, "phone", {"email": "ivan@example.ru"}),
        (PHONE | {"page_url": "https://l.ru/?yclid=123.456"}, "yclid", {"yclid": None}),
        (PHONE | {"COOKIES": "_ym_uid=abc"}, "ym_client_id", {"ym_client_id": None}),
        (PHONE | {"utm_source": "u" * 501}, "utm_source", {"utm_source": "u" * 500}),
        (PHONE | {"name": {"first": "Ivan"}}, "name", {"name": None}),
        (PHONE | {"name": "x" * 201}, "name", {"name": "x" * 200}),
        (PHONE | {"comment": "c" * 5001}, "comment", {"comment": "c" * 5000}),
        (PHONE | {"campaign_id": "c" * 201}, "campaign_id", {"campaign_id": "c" * 200}),
        (PHONE | {"yclid": "1 2"}, "yclid", {"yclid": None}),
        (PHONE | {"ym_client_id": "abc"}, "ym_client_id", {"ym_client_id": None}),
        (PHONE | {"page_url": "https://x.ru/" + "a" * 2048}, "page_url", {}),
    ],
)
async def test_a_bad_optional_field_is_a_warning(ingest, db_path, body, field, kept):
    resp = await ingest.post("/api/v1/leads", json=body)
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert [w["field"] for w in answer["warnings"]] == [field]
    [lead] = rows(db_path, "SELECT * FROM leads")
    for name, value in kept.items():
        assert lead[name] == value
    [warning] = json.loads(lead["warnings"])
    assert warning["field"] == field and warning["reason"]
    [event] = rows(db_path, "SELECT data FROM events")
    assert json.loads(event["data"])["warnings"] == [warning]  # in the event: replayable


async def test_a_clean_lead_has_no_warnings(ingest, db_path):
    resp = await ingest.post("/api/v1/leads", json=PHONE)
    assert "warnings" not in await resp.json()
    [lead] = rows(db_path, "SELECT warnings FROM leads")
    assert lead["warnings"] == "[]"


async def test_a_value_nested_too_deep_for_extra_is_kept_as_a_note(ingest, db_path):
    nested: object = "x"
    for _ in range(600):
        nested = [nested]
    resp = await ingest.post("/api/v1/leads", json=PHONE | {"quiz": nested})
    assert resp.status == 200, await resp.text()
    [lead] = rows(db_path, "SELECT extra FROM leads")
    assert json.loads(lead["extra"])["quiz"] == "(a value nested too deeply to keep)"
