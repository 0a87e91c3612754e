import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from common.cli import main
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


@pytest.fixture
def cli(monkeypatch, capsys, database):
    """`leadrelay …` in this process on the test's database (a subprocess per command costs
    half a second): the exit code, stdout and stderr."""
    monkeypatch.setenv("LEADRELAY_DATABASE", database)

    def call(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            code = main(list(args))
        except SystemExit as stop:
            code = stop.code
        out, err = capsys.readouterr()
        return code, out, err

    return call


def test_every_command_names_its_database_on_stderr(cli, database):
    """Which database a command works on is never a guess: on stderr, so stdout stays the
    command's own output."""
    engine = "PostgreSQL" if database.startswith("postgresql") else "SQLite"
    for args in (["migrate"], ["tasks"], ["users", "list"], ["dashboard"], ["verify"]):
        code, out, err = cli(*args)
        assert code == 0, err
        assert err.splitlines()[0] == f"leadrelay: database {database} ({engine})"
        assert "leadrelay: database" not in out


def test_users_are_added_listed_and_removed_with_their_passwords_hashed(cli, database):
    def add(name: str, role: str, password: str):
        return cli("users", "add", name, "--role", role, "--password-stdin", stdin=f"{password}\n")

    code, _, err = add("vera", "staff", "vera-staff-pass")
    assert code == 1 and "no admin" in err  # the first user must be an admin
    code, out, err = add("anna", "admin", "anna-admin-pass")
    assert code == 0, err
    assert "anna added (admin)" in out
    assert "dashboard.username / dashboard.password no longer logs in" in out
    assert add("vera", "staff", "vera-staff-pass")[0] == 0
    [anna, vera] = rows(database, "SELECT * FROM dashboard_users ORDER BY name")
    assert anna["password_hash"].startswith("scrypt$32768$8$1$")
    assert "anna-admin-pass" not in anna["password_hash"] + out + err
    assert vera["role"] == "staff" and vera["password_hash"] != anna["password_hash"]

    code, _, err = add("anna", "staff", "another-pass")
    assert code == 1 and "exists" in err
    assert add("bo ris", "staff", "boris-pass")[0] == 2
    code, _, err = add("boris", "staff", "short")
    assert code == 2 and "at least 8 characters" in err
    listed = cli("users", "list")[1].splitlines()
    assert [line.split()[:2] for line in listed] == [["anna", "admin"], ["vera", "staff"]]
    assert "named users" in cli("dashboard")[1]

    code, _, err = cli("users", "remove", "anna")
    assert code == 1 and "no admin" in err
    assert cli("users", "remove", "vera")[0] == 0
    assert cli("users", "remove", "vera")[0] == 1
    assert cli("users", "remove", "anna")[0] == 0  # the last one may go
    assert rows(database, "SELECT name FROM dashboard_users") == []
    assert "no named users" in cli("users", "list")[1]


def test_users_add_without_a_terminal_asks_for_password_stdin(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "common.cli", "users", "add", "anna", "--role", "admin"],
        env=os.environ | {"LEADRELAY_DATABASE": str(tmp_path / "x.db")},
        input="typed-at-a-pipe\n",
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "--password-stdin" in done.stdout + done.stderr
    assert rows(tmp_path / "x.db", "SELECT name FROM dashboard_users") == []


@pytest.mark.parametrize(
    ("dashboard", "shown", "hidden"),
    [
        ({}, "log in as admin, password change-me (the default", None),
        ({"PASSWORD": "demo", "PORT": "9183"}, "password demo;", None),
        ({"PASSWORD": "Real-Secret-1", "HOST": "0.0.0.0"}, "the password in", "Real-Secret-1"),
    ],
)
def test_dashboard_says_where_it_is_and_how_to_log_in(tmp_path, dashboard, shown, hidden):
    env = os.environ | {"LEADRELAY_DATABASE": str(tmp_path / "x.db")}
    env |= {f"LEADRELAY_DASHBOARD__{key}": value for key, value in dashboard.items()}
    done = subprocess.run(
        [sys.executable, "-m", "common.cli", "dashboard"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    port = dashboard.get("PORT", "8083")
    assert done.stdout.startswith(f"dashboard: http://127.0.0.1:{port}/admin")
    assert shown in done.stdout
    assert hidden is None or hidden not in done.stdout + done.stderr
