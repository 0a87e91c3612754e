"""What /healthz says of a SQLite database a running process cannot write to: its file moved
away or replaced (and no connection the process opens afterwards makes a new empty database
at the path, which the next process to start would have migrated and run on, apart from every
lead so far). A lock held past busy_timeout: test_lock_held_health.py, on both backends."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from common.store.sqlite.connection import connect
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
