import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from common.leads import LeadService
from common.model import NewLead
from tests.helpers import execute


def run(db_path, *args):
    env = os.environ | {"LEADRELAY_DATABASE": str(db_path)}
    return subprocess.run(
        [sys.executable, "-m", "common.cli", *args], env=env, capture_output=True, text=True
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
