from tests.helpers import execute, rows

LEAD = {"phone": "+79161234567", "name": "Anna"}


async def test_same_key_same_body_returns_the_first_answer(ingest, db_path):
    headers = {"Idempotency-Key": "form-42"}
    first = await ingest.post("/api/v1/leads", json=LEAD, headers=headers)
    second = await ingest.post("/api/v1/leads", json=LEAD, headers=headers)
    assert first.status == second.status == 200
    assert await first.json() == await second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(rows(db_path, "SELECT * FROM leads")) == 1
    assert len(rows(db_path, "SELECT * FROM tasks")) == 1


async def test_same_key_other_body_is_a_conflict(ingest, db_path):
    headers = {"Idempotency-Key": "form-43"}
    await ingest.post("/api/v1/leads", json=LEAD, headers=headers)
    resp = await ingest.post("/api/v1/leads", json=LEAD | {"name": "Boris"}, headers=headers)
    assert resp.status == 409
    assert (await resp.json())["error"] == "idempotency_key_reused"
    assert len(rows(db_path, "SELECT * FROM leads")) == 1


async def test_same_data_in_another_encoding_is_the_same_request(ingest, db_path):
    headers = {"Idempotency-Key": "form-44"}
    first = await ingest.post("/api/v1/leads", json=LEAD, headers=headers)
    again = await ingest.post(
        "/api/v1/leads", data={"Phone": "8 916 123-45-67", "Name": "Anna"}, headers=headers
    )
    assert again.status == 200 and await again.json() == await first.json()
    assert len(rows(db_path, "SELECT * FROM leads")) == 1


async def test_without_a_key_two_clients_are_two_leads(ingest, db_path):
    await ingest.post("/api/v1/leads", json=LEAD)
    await ingest.post("/api/v1/leads", json=LEAD | {"phone": "+79160000042"})
    assert len(rows(db_path, "SELECT * FROM leads")) == 2


async def test_an_expired_key_starts_afresh(ingest, db_path):
    headers = {"Idempotency-Key": "form-45"}
    first = await (await ingest.post("/api/v1/leads", json=LEAD, headers=headers)).json()
    execute(db_path, "UPDATE idempotency_keys SET created_at = '2020-01-01T00:00:00.000000Z'")
    execute(db_path, "UPDATE leads SET created_at = '2020-01-01T00:00:00.000000Z'")  # no repeat
    second = await (await ingest.post("/api/v1/leads", json=LEAD, headers=headers)).json()
    assert second["lead_id"] != first["lead_id"]
