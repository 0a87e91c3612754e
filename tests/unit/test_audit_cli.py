"""The CLI's actions in the audit trail (users added and removed, failed tasks retried), by
the operating system's user on this host, and `leadrelay audit` printing the newest."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import timedelta
from zoneinfo import ZoneInfo

from common.audit import Action, AuditEntry, cli_actor
from common.days import today
from common.leads import LeadService
from common.model import NewLead
from common.store import open_store
from tests.helpers import ago, execute, rows, stored
from tests.unit.test_cli import cli  # noqa: F401  (the fixture)


def trail(database: str) -> list[tuple[str, str, str, str]]:
    found = rows(database, "SELECT actor, action, target, address FROM audit_log ORDER BY id")
    return [(r["actor"], r["action"], r["target"], r["address"]) for r in found]


def test_users_added_and_removed_are_recorded_by_who_ran_the_command(cli, database):  # noqa: F811
    add = ("users", "add", "anna", "--role", "admin", "--password-stdin")
    assert cli(*add, stdin="anna-admin-pass\n")[0] == 0
    assert cli(*add, stdin="anna-admin-pass\n")[0] == 1  # exists: nothing recorded
    assert cli("users", "remove", "anna")[0] == 0
    assert cli("users", "remove", "anna")[0] == 1
    me, host = cli_actor(), socket.gethostname()
    assert me.startswith("cli")
    assert trail(database) == [
        (me, "user_added", "anna", host),
        (me, "user_removed", "anna", host),
    ]
    [added] = rows(database, "SELECT details FROM audit_log WHERE action = 'user_added'")
    assert json.loads(added["details"]) == {"role": "admin"}
    assert "anna-admin-pass" not in str(rows(database, "SELECT * FROM audit_log"))


async def seed(database: str) -> None:
    """A lead (its task failed below) and an entry three days old."""
    store = await open_store(database, 1.0, zone=ZoneInfo("Europe/Moscow"))
    old = AuditEntry("anna", Action.LOGIN, address="192.0.2.1", at=stored(ago(days=3)))
    try:
        await store.write(lambda tx: LeadService.create_lead(tx, NewLead(campaign_id="c")))
        await store.write(lambda tx: tx.audit.add(old))
    finally:
        await store.close()


def test_retry_failed_is_recorded_and_audit_prints_the_newest(cli, database):  # noqa: F811
    asyncio.run(seed(database))  # `leadrelay` runs its own loop: this test has none
    execute(database, "UPDATE tasks SET status = 'failed'")
    assert cli("tasks", "retry-failed")[0] == 0
    assert trail(database)[-1][1:3] == ("retry_all", "")

    code, out, _ = cli("audit")
    lines = [line.split("\t") for line in out.splitlines()]
    assert code == 0 and [line[2] for line in lines] == ["retry_all", "login"]
    assert json.loads(lines[0][5]) == {"tasks": "1"}
    assert lines[1][0].endswith("+03:00")  # in dashboard.timezone (Moscow)
    assert cli("audit", "--limit", "1")[1].count("\n") == 1
    yesterday = (today(ZoneInfo("Europe/Moscow")) - timedelta(days=1)).isoformat()  # its day
    assert [line.split("\t")[2] for line in cli("audit", "--since", yesterday)[1].splitlines()] == [
        "retry_all"
    ]
    code, _, err = cli("audit", "--since", "29.11.2026")
    assert code == 2 and "YYYY-MM-DD" in err
    assert cli("audit", "--limit", "0")[0] == 2


def test_rebuild_is_recorded_with_the_events_it_replayed(cli, database):  # noqa: F811
    asyncio.run(seed(database))
    assert cli("rebuild")[0] == 0
    [entry] = rows(database, "SELECT action, details FROM audit_log WHERE actor <> 'anna'")
    assert (entry["action"], json.loads(entry["details"])) == ("rebuild", {"events": "1"})
