"""A lock our writes wait for, held by another connection past busy_timeout (a SQLite shell
left in a transaction; a PostgreSQL session holding the lock that keeps events in commit
order): every write waits, then answers 503, and /healthz says why until a write commits."""

from __future__ import annotations

from services.ingest.app import create_app as ingest
from tests.helpers import write_lock_held

HELD = "past busy_timeout, so writes were refused"


async def test_a_lock_held_past_busy_timeout_is_named_on_healthz_until_a_write_commits(
    aiohttp_client, settings
):
    client = await aiohttp_client(ingest(settings))
    assert (await client.get("/healthz")).status == 200
    with write_lock_held(settings.database):
        refused = await client.post("/api/v1/leads", json={"phone": "+79161234567"})
        assert refused.status == 503, await refused.text()
        assert (await refused.json())["error"] == "database_busy"
        health = await client.get("/healthz")
        body = await health.json()
        assert health.status == 503, body
        held = [p for p in body["problems"] if HELD in p]
        assert held, body
        # busy, not broken: the line names the lock, not a database that cannot take writes
        assert "held the write lock" in held[0] or "order of events" in held[0], held
    accepted = await client.post("/api/v1/leads", json={"phone": "+79161234567"})
    assert accepted.status == 200, await accepted.text()
    assert (await client.get("/healthz")).status == 200
