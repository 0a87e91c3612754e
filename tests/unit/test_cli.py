import os
import sqlite3
import subprocess
import sys

from common.leads import LeadService


def run(db_path, *args):
    env = os.environ | {"LEADRELAY_DATABASE": str(db_path)}
    return subprocess.run(
        [sys.executable, "-m", "common.cli", *args], env=env, capture_output=True, text=True
    )


async def test_verify_rebuild_and_tasks(store):
    for n in range(3):
        await store.write(lambda tx, n=n: LeadService.create_lead(tx, {"campaign_id": f"c{n}"}, {}))
    assert run(store.path, "verify").returncode == 0

    conn = sqlite3.connect(store.path)
    conn.execute("UPDATE campaign_stats SET leads = 7 WHERE campaign_id = 'c1'")
    conn.execute("UPDATE tasks SET status = 'failed' WHERE id = 1")
    conn.commit()
    conn.close()
    broken = run(store.path, "verify")
    assert broken.returncode == 1
    assert "campaign_stats c1" in broken.stdout

    rebuilt = run(store.path, "rebuild")
    assert rebuilt.returncode == 0 and "replayed 3 events" in rebuilt.stdout
    assert run(store.path, "verify").returncode == 0

    counts = run(store.path, "tasks")
    assert "failed      1" in counts.stdout and "pending     2" in counts.stdout
    retried = run(store.path, "tasks", "retry-failed")
    assert "requeued 1 failed tasks" in retried.stdout and "pending     3" in retried.stdout
