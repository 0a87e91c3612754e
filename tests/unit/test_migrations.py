import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from common.store.postgres.migrate import migrate as migrate_postgres
from common.store.sqlite.migrate import SchemaTooNew, migrate, migrations
from tests import pg
from tests.helpers import execute, rows


@pytest.mark.sqlite_only
def test_four_processes_migrating_at_once_all_succeed(db_path):
    script = (
        "import sys; from pathlib import Path; from common.store.sqlite.migrate import migrate;"
    )
    script += "print(migrate(Path(sys.argv[1])))"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(db_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    results = [proc.communicate(timeout=60) for proc in procs]
    latest = migrations()[-1][0]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()
        assert out.decode().strip() == str(latest)
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"events", "leads", "campaign_stats", "tasks", "idempotency_keys"} <= tables


@pytest.mark.sqlite_only
def test_a_newer_schema_is_refused(db_path):
    migrate(Path(db_path))
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(SchemaTooNew):
        migrate(Path(db_path))


def test_four_processes_migrating_postgres_at_once_all_succeed(postgres_server):
    """The advisory lock: processes on several hosts starting together migrate once."""
    url = pg.fresh_database(postgres_server)
    script = "import sys; from common.store.postgres.migrate import migrate;"
    script += "print(migrate(sys.argv[1]))"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    results = [proc.communicate(timeout=60) for proc in procs]
    latest = migrations("common.store.postgres")[-1][0]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()
        assert out.decode().strip() == str(latest)
    applied = rows(url, "SELECT version FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in applied] == [n for n, _ in migrations("common.store.postgres")]
    execute(url, "INSERT INTO schema_migrations (version) VALUES (999)")
    with pytest.raises(SchemaTooNew):
        migrate_postgres(url)
