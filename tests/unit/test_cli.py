import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from common.leads import LeadService
from common.model import NewLead
from tests.helpers import execute, free_port, rows


def run(db_path, *args, zone: str = "Europe/Moscow", module: str = "common.cli", timeout=None):
    env = os.environ | {
        "LEADRELAY_DATABASE": str(db_path),
        "LEADRELAY_DASHBOARD__TIMEZONE": zone,
        "LEADRELAY_INGEST__PORT": str(free_port()),  # never the default port, should it start
    }
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


async def test_verify_rebuild_and_tasks(store):
    for n in range(3):
        await store.write(lambda tx, n=n: LeadService.create_lead(tx, NewLead(campaign_id=f"c{n}")))
    assert run(store.location, "verify").returncode == 0

    execute(store.location, "UPDATE campaign_stats SET leads = 7 WHERE campaign_id = 'c1'")
    execute(store.location, "UPDATE tasks SET status = 'failed' WHERE id = 1")
    broken = run(store.location, "verify")
    assert broken.returncode == 1
    assert "campaign_stats c1" in broken.stdout

    rebuilt = run(store.location, "rebuild")
    assert rebuilt.returncode == 0 and "replayed 3 events" in rebuilt.stdout
    assert run(store.location, "verify").returncode == 0

    counts = run(store.location, "tasks")
    assert "failed      1" in counts.stdout and "pending     2" in counts.stdout
    retried = run(store.location, "tasks", "retry-failed")
    assert "requeued 1 failed tasks" in retried.stdout and "pending     3" in retried.stdout


@pytest.mark.sqlite_only
async def test_backup_is_one_consistent_file_with_what_the_wal_held(store, tmp_path):
    """The live database keeps recent commits in its -wal file: copying only the .db file
    would lose them; `leadrelay backup` copies the committed state into one file."""
    for n in range(5):
        await store.write(lambda tx, n=n: LeadService.create_lead(tx, NewLead(campaign_id=f"c{n}")))
    assert Path(store.location + "-wal").stat().st_size > 0  # still in the WAL
    target = tmp_path / "copy.db"
    done = run(store.location, "backup", str(target))
    assert done.returncode == 0 and "(5 events)" in done.stdout
    assert not target.with_name("copy.db-wal").exists()
    copy = sqlite3.connect(target)
    assert copy.execute("SELECT count(*) FROM leads").fetchone()[0] == 5
    copy.close()
    again = run(store.location, "backup", str(target))
    assert again.returncode != 0 and "exists" in again.stderr  # never overwrites


async def test_a_changed_zone_stops_commands_and_services_until_rebuild(store):
    """The days were counted in Moscow; configured for Berlin, every command and process
    stops at start naming both zones, but `rebuild` re-counts them and records Berlin."""
    await store.write(lambda tx: LeadService.create_lead(tx, NewLead(campaign_id="c")))
    refused = run(store.location, "verify", zone="Europe/Berlin")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    for words in ("counted in Europe/Moscow", "dashboard.timezone is Europe/Berlin", "rebuild"):
        assert words in refused.stderr
    assert "Traceback" not in refused.stderr
    ingest = run(store.location, zone="Europe/Berlin", module="services.ingest", timeout=60)
    assert ingest.returncode == 2, ingest.stderr
    assert "not starting" in ingest.stderr and "counted in Europe/Moscow" in ingest.stderr
    assert "Traceback" not in ingest.stderr

    rebuilt = run(store.location, "rebuild", zone="Europe/Berlin")
    assert rebuilt.returncode == 0 and "days counted in Europe/Berlin" in rebuilt.stdout
    [recorded] = rows(store.location, "SELECT value FROM projection_settings")
    assert recorded["value"] == "Europe/Berlin"
    assert run(store.location, "verify", zone="Europe/Berlin").returncode == 0
    assert run(store.location, "verify").returncode == 2  # Moscow is now the other zone
