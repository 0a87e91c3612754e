"""What /healthz says of a SQLite database a running process cannot write to: its file moved
away or replaced (and no connection the process opens afterwards makes a new empty database
at the path, which the next process to start would have migrated and run on, apart from every
lead so far), or its write lock held by another connection past busy_timeout."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from common.store.sqlite.connection import connect
from services.ingest.app import create_app as ingest
from services.webhooks.app import create_app as webhooks

pytestmark = pytest.mark.sqlite_only


async def test_a_database_moved_away_is_named_on_healthz_and_not_made_again(
    aiohttp_client, settings, tmp_path
):
    database = Path(settings.database)
    client = await aiohttp_client(webhooks(settings))
    assert (await client.get("/healthz")).status == 200

    away = tmp_path / "moved-away"
    away.mkdir()
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{database}{suffix}").exists():
            Path(f"{database}{suffix}").rename(away / f"{database.name}{suffix}")
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 503, body
    assert any(str(database) in problem and "is gone" in problem for problem in body["problems"])
    assert not database.exists()  # no connection the check opened made a new file there

    # Put back, it is the same file: healthy again.
    for moved in away.iterdir():
        moved.rename(database.with_name(moved.name))
    assert (await client.get("/healthz")).status == 200


async def test_a_database_replaced_by_another_file_is_named_on_healthz(
    aiohttp_client, settings, tmp_path
):
    database = Path(settings.database)
    client = await aiohttp_client(webhooks(settings))
    copy = tmp_path / "copy.db"
    copy.write_bytes(database.read_bytes())
    copy.replace(database)  # a restore by hand, say, while the process runs
    body = await (await client.get("/healthz")).json()
    assert any("is another file" in problem for problem in body["problems"]), body


def test_a_connection_to_a_missing_file_is_an_error_not_a_new_database(tmp_path):
    """Only migrate() creates the file; every other connection needs it there."""
    missing = tmp_path / "leadrelay.db"
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        connect(missing, 1.0, read_only=True)
    assert not missing.exists()


async def test_a_write_lock_held_past_busy_timeout_is_named_on_healthz_until_a_write_commits(
    aiohttp_client, settings
):
    """Another connection's long transaction (a shell left open, say): every write waits
    busy_timeout, then answers 503; /healthz says why until a write commits again."""
    client = await aiohttp_client(ingest(settings))
    assert (await client.get("/healthz")).status == 200
    holder = sqlite3.connect(settings.database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        refused = await client.post("/api/v1/leads", json={"phone": "+79161234567"})
        assert refused.status == 503, await refused.text()
        health = await client.get("/healthz")
        body = await health.json()
        assert health.status == 503, body
        assert any("held the write lock past busy_timeout" in p for p in body["problems"]), body
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    accepted = await client.post("/api/v1/leads", json={"phone": "+79161234567"})
    assert accepted.status == 200, await accepted.text()
    assert (await client.get("/healthz")).status == 200
