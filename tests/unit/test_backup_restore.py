"""`leadrelay backup` and `leadrelay restore` on real files: dated names and rotation, the
copy verified, the audit entries, the services' lock, and what a refused restore leaves."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
from pathlib import Path

import pytest

from common.config import Settings
from common.leads import LeadService
from common.model import NewLead
from common.store import open_store
from common.store.sqlite.service_lock import ServiceHold
from tests.helpers import execute, rows, snapshot
from tests.unit.test_cli import cli  # noqa: F401  (the fixture: `leadrelay …` in this process)

pytestmark = pytest.mark.sqlite_only
DATED = re.compile(r"leadrelay-\d{8}T\d{6}Z\.db")


async def add_leads(database: str, count: int, campaign: str) -> None:
    """Leads written by a store that is closed again, as a service that stopped."""
    store = await open_store(database, 0.5, zone=Settings().dashboard.zone)
    try:
        for _ in range(count):
            await store.write(lambda tx: LeadService.create_lead(tx, NewLead(campaign_id=campaign)))
    finally:
        await store.close()


def lead_ids(database: str | Path) -> set[str]:
    return {row["id"] for row in rows(database, "SELECT id FROM leads")}


def database_files(folder: Path) -> list[str]:
    """What is in the folder but the lock file, which stays once made (removing a lock
    file another process may be opening would let two of them lock different files)."""
    return sorted(p.name for p in folder.iterdir() if p.suffix != ".lock")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_backup_into_a_folder_is_dated_verified_audited_and_rotated(cli, database, tmp_path):  # noqa: F811
    await add_leads(database, 3, "c")
    folder = tmp_path / "backups"
    folder.mkdir()
    ours = [folder / f"leadrelay-2020010{day}T030000Z.db" for day in (1, 2, 3)]
    foreign = [
        folder / name
        for name in (
            "notes.txt",
            "leadrelay-manual.db",
            "other-20200101T030000Z.db",
            "leadrelay-20200101T030000Z.db.bak",
        )
    ]
    for path in ours + foreign:
        path.write_text("not ours to judge")

    code, out, err = await asyncio.to_thread(cli, "backup", str(folder), "--keep", "2")
    assert code == 0, err
    [new] = [p for p in folder.iterdir() if DATED.fullmatch(p.name) and p not in ours]
    assert sorted(folder.iterdir()) == sorted([new, ours[2], *foreign])  # foreign files stay
    assert f"removed {ours[0]}" in out and f"removed {ours[1]}" in out
    assert lead_ids(new) == lead_ids(database)
    assert new.read_bytes()[18:20] == b"\x01\x01"  # a rollback-journal file: nothing beside it
    assert [p.name for p in folder.glob(f"{new.name}*")] == [new.name]
    events = rows(new, "SELECT count(*) AS n FROM events")[0]["n"]
    assert f"({events} events)" in out and "verified" in out
    [entry] = rows(database, "SELECT * FROM audit_log WHERE action = 'backup'")
    assert entry["target"] == str(new) and entry["actor"].startswith("cli")
    assert json.loads(entry["details"])["events"] == str(events)


def test_backup_refuses_keep_with_a_file_name_and_an_existing_file(cli, database, tmp_path):  # noqa: F811
    assert cli("migrate")[0] == 0
    code, _, err = cli("backup", str(tmp_path / "one.db"), "--keep", "3")
    assert code == 2 and "--keep rotates dated backups in a folder" in err
    assert not (tmp_path / "one.db").exists()
    code, _, err = cli("backup", str(tmp_path), "--keep", "0")
    assert code == 2 and "--keep must be 1 or more" in err
    assert cli("backup", str(tmp_path / "one.db"))[0] == 0
    code, _, err = cli("backup", str(tmp_path / "one.db"))
    assert code == 2 and "exists" in err


async def test_restore_puts_the_backup_in_place_and_keeps_the_replaced_file(
    cli,  # noqa: F811
    database,
    tmp_path,
):
    await add_leads(database, 3, "before")
    backup = tmp_path / "kept" / "backup.db"
    backup.parent.mkdir()
    assert (await asyncio.to_thread(cli, "backup", str(backup)))[0] == 0
    backed_up, backup_digest = lead_ids(backup), digest(backup)
    await add_leads(database, 2, "after")
    everything = lead_ids(database)
    # A process that stopped without closing leaves commits in the -wal: held open here.
    left_open = sqlite3.connect(database, isolation_level=None)
    left_open.execute("UPDATE leads SET comment = 'only in the wal' WHERE campaign_id = 'after'")
    assert Path(database + "-wal").stat().st_size > 0

    code, out, err = await asyncio.to_thread(cli, "restore", str(backup))
    left_open.close()
    assert code == 0, err
    assert lead_ids(database) == backed_up and len(backed_up) == 3
    assert not Path(database + "-wal").exists()  # the old -wal went with the old file
    [kept] = Path(database).parent.glob("leadrelay.db.replaced-*[0-9]Z")
    assert f"kept as {kept}" in out
    assert lead_ids(kept) == everything
    commented = rows(kept, "SELECT count(*) AS n FROM leads WHERE comment = 'only in the wal'")
    assert commented[0]["n"] == 2
    assert digest(backup) == backup_digest  # the backup itself is never changed
    [entry] = rows(database, "SELECT * FROM audit_log WHERE action = 'restore'")
    details = json.loads(entry["details"])
    assert (details["backup"], details["kept"]) == (str(backup), kept.name)
    assert (await asyncio.to_thread(cli, "verify"))[0] == 0


async def test_restore_is_refused_while_a_service_holds_the_database(cli, database, tmp_path):  # noqa: F811
    await add_leads(database, 2, "c")
    backup = tmp_path / "backup.db"
    assert (await asyncio.to_thread(cli, "backup", str(backup)))[0] == 0
    await add_leads(database, 1, "c")
    hold = ServiceHold(database)  # what every service takes in store_ctx
    before, files = snapshot(database), database_files(tmp_path)
    try:
        code, _, err = await asyncio.to_thread(cli, "restore", str(backup))
    finally:
        hold.release()
    assert code == 2 and "stop ingest, webhooks, dispatcher and dashboard first" in err
    assert snapshot(database) == before and database_files(tmp_path) == files
    assert (await asyncio.to_thread(cli, "restore", str(backup)))[0] == 0  # once it is let go


def damage_pages(path: Path) -> None:
    data = bytearray(path.read_bytes())
    page = 4096
    for n in range(2, len(data) // page):  # every page but the header's: the btrees break
        data[n * page + 8 : n * page + 64] = b"\xa5" * 56
    path.write_bytes(bytes(data))


def disagree(path: Path) -> None:
    execute(path, "UPDATE campaign_stats SET leads = 7")


def not_a_database(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + b"\x17" * 8192)


@pytest.mark.parametrize(
    ("spoil", "says"),
    [
        (not_a_database, "cannot be read as a SQLite database"),
        (damage_pages, "SQLite database"),
        (disagree, "verify found the copy's projections differ from its events"),
    ],
)
async def test_restore_refuses_a_copy_it_cannot_verify_and_changes_nothing(
    cli,  # noqa: F811
    database,
    tmp_path,
    spoil,
    says,
):
    await add_leads(database, 3, "c")
    backup = tmp_path / "backup.db"
    assert (await asyncio.to_thread(cli, "backup", str(backup)))[0] == 0
    spoil(backup)
    before, files = snapshot(database), database_files(tmp_path)
    code, _, err = await asyncio.to_thread(cli, "restore", str(backup))
    assert code == 1 and says in err, err
    assert snapshot(database) == before
    assert database_files(tmp_path) == files  # no .restoring, no .replaced-… left
