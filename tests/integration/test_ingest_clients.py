"""Per-client rate limits, trusted proxies, request ids and masked logs."""

import logging

import pytest

from common.config import Settings
from services.ingest.app import create_app
from tests.helpers import rows

LEAD = {"phone": "+79161234567", "email": "secret.person@example.ru", "name": "Секретный"}


@pytest.fixture
async def limited(aiohttp_client, db_path):
    settings = Settings(
        database=db_path,
        ingest={"rate_limit_per_minute": 3, "trusted_proxies": ["127.0.0.1"]},
    )
    return await aiohttp_client(create_app(settings))


async def test_rate_limit_per_client_ip(limited, db_path):
    statuses = [
        (await limited.post("/api/v1/leads", json={"phone": f"+7916000001{n}"})).status
        for n in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    resp = await limited.post("/api/v1/leads", json=LEAD)
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    assert (await resp.json())["error"] == "rate_limited"
    assert len(rows(db_path, "SELECT * FROM leads")) == 3


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(limited):
    # The test client connects from 127.0.0.1, a trusted proxy, so each
    # X-Forwarded-For is a different client with its own allowance.
    for n in range(4):
        resp = await limited.post(
            "/api/v1/leads", json=LEAD, headers={"X-Forwarded-For": f"203.0.113.{n}"}
        )
        assert resp.status == 200
    spoof = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}
    for _ in range(3):
        assert (await limited.post("/api/v1/leads", json=LEAD, headers=spoof)).status == 200
    # The proxy appended 203.0.113.9; the earlier, client-written entry is ignored.
    resp = await limited.post(
        "/api/v1/leads", json=LEAD, headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert resp.status == 429


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(aiohttp_client, db_path):
    settings = Settings(
        database=db_path, ingest={"rate_limit_per_minute": 2, "trusted_proxies": ["10.0.0.1"]}
    )
    client = await aiohttp_client(create_app(settings))
    statuses = [
        (
            await client.post(
                "/api/v1/leads", json=LEAD, headers={"X-Forwarded-For": f"203.0.113.{n}"}
            )
        ).status
        for n in range(3)
    ]
    assert statuses == [200, 200, 429]  # all counted against the real peer


async def test_request_id_is_generated_when_absent_or_unsafe(ingest):
    resp = await ingest.post(
        "/api/v1/leads", json=LEAD, headers={"X-Request-ID": "bad id; <script>"}
    )
    assert len(resp.headers["X-Request-ID"]) == 32


async def test_logs_carry_no_personal_data(ingest, caplog):
    caplog.set_level(logging.INFO)
    resp = await ingest.post("/api/v1/leads", json=LEAD, headers={"X-Request-ID": "trace-me"})
    assert resp.status == 200
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "trace-me" in text and "lead accepted" in text
    for secret in ("+79161234567", "79161234567", "secret.person", "Секретный"):
        assert secret not in text
