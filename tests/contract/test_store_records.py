"""The contract of the store's smaller records on every backend: idempotency keys, webhook
receipts, unmatched payments, reconcile cursors, dashboard sessions and users, generated
secrets, leads and counters; what each verb leaves in its table, and times read from the
store's one clock."""

from __future__ import annotations

import stat
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from common import clock
from common.errors import IdempotencyConflict
from common.events import LeadSentToCrm, PaymentRegistered
from common.leads import LeadService
from common.model import NewLead, Role
from common.reconciling import Reading
from common.store import open_store
from common.store.sessions import SessionUser
from tests.contract.kit import age, backend, count, database_now
from tests.helpers import ZONE, ago, execute, moscow, rows, stored

SLACK = timedelta(seconds=5)


def near(text: str, moment) -> bool:
    return abs(clock.parse(text) - moment) < SLACK


async def test_idempotency_keys_expire_on_the_store_s_clock(store, database):
    await store.write(lambda tx: tx.idempotency.remember("k1", "h1", {"lead_id": "a"}, 24))
    [kept] = rows(database, "SELECT * FROM idempotency_keys")
    assert (kept["key"], kept["request_hash"]) == ("k1", "h1")
    assert near(kept["created_at"], database_now(database))
    assert await store.read(lambda tx: tx.idempotency.lookup("k1", "h1", 24)) == {"lead_id": "a"}
    with pytest.raises(IdempotencyConflict):
        await store.read(lambda tx: tx.idempotency.lookup("k1", "other", 24))
    age(database, "idempotency_keys", "created_at", 25 * 3600)
    assert await store.read(lambda tx: tx.idempotency.lookup("k1", "h1", 24)) is None
    await store.write(lambda tx: tx.idempotency.remember("k2", "h2", {}, 24))
    assert [r["key"] for r in rows(database, "SELECT key FROM idempotency_keys")] == ["k2"]


async def test_receipts_are_kept_and_updated(store, database):
    receipt = await store.write(
        lambda tx: tx.receipts.keep("amo", "m-1", b"{}", {"status": "ok", "lead_id": "l"})
    )
    assert await store.read(lambda tx: tx.receipts.seen("amo", "m-1"))
    assert not await store.read(lambda tx: tx.receipts.seen("amo", "m-2"))
    await store.write(lambda tx: tx.receipts.update(receipt, {"status": "rejected"}))
    [kept] = rows(database, "SELECT * FROM webhook_receipts")
    assert (kept["id"], kept["outcome"], kept["lead_id"]) == (receipt, "rejected", None)
    assert near(kept["received_at"], database_now(database))


async def test_unmatched_payments_are_kept_once_and_attached_once(store, database):
    def keep(tx):
        return tx.unmatched.keep("amo", "deal-1", "100.00", "RUB", "2000-01-01T00:00:00.000000Z")

    first = await store.write(keep)
    assert await store.write(keep) == first
    assert count(database, "unmatched_payments") == 1
    assert [p.id for p in await store.read(lambda tx: tx.unmatched.open())] == [first]
    assert await store.write(lambda tx: tx.unmatched.attach(first, "lead-1"))
    assert not await store.write(lambda tx: tx.unmatched.attach(first, "lead-2"))
    [kept] = rows(database, "SELECT * FROM unmatched_payments")
    assert (kept["status"], kept["lead_id"]) == ("attached", "lead-1")
    now = database_now(database)
    assert near(kept["received_at"], now) and near(kept["attached_at"], now)
    payment = await store.read(lambda tx: tx.unmatched.get(first))
    assert payment is not None and payment.attached_at == kept["attached_at"]


async def test_cursors_move_and_say_when(store, database):
    assert await store.read(lambda tx: tx.cursors.get("b24")) == Reading()
    one = Reading(since=ago(hours=2), until=ago(hours=1), place={"after": 10}, skipped=1)
    two = Reading(since=ago(hours=1), failures=2, problem="HTTP 500", webhook="switched off")
    await store.write(lambda tx: tx.cursors.set("b24", one))
    await store.write(lambda tx: tx.cursors.set("b24", two))
    [kept] = rows(database, "SELECT * FROM reconcile_cursors")
    assert kept["connection"] == "b24" and kept["cursor"].startswith("{")
    assert near(kept["updated_at"], database_now(database))
    assert await store.read(lambda tx: tx.cursors.get("b24")) == two
    assert await store.read(lambda tx: tx.cursors.all()) == {"b24": two}


async def test_an_earlier_version_s_text_cursor_is_where_the_next_window_starts(store, database):
    """Before windows a cursor was the latest change time seen, as the CRM wrote it."""
    since = ago(hours=3)
    execute(
        database,
        "INSERT INTO reconcile_cursors (connection, cursor, updated_at) VALUES"
        " ('amo', ?, '2026-01-01T00:00:00.000000Z'), ('b24', ?, '2026-01-01T00:00:00.000000Z')",
        (str(int(since.timestamp())), moscow(since)),
    )
    readings = await store.read(lambda tx: tx.cursors.all())
    assert readings == {"amo": Reading(since=since), "b24": Reading(since=since)}


ADMIN = SessionUser("admin", Role.ADMIN)


async def test_sessions_open_expire_and_close_on_the_store_s_clock(store, database):
    await store.write(lambda tx: tx.sessions.open("s-1", ADMIN, 3600))
    await store.write(lambda tx: tx.sessions.open("s-2", ADMIN, 3600))
    [first, _] = rows(database, "SELECT * FROM dashboard_sessions ORDER BY created_at")
    assert first["id"] != "s-1"  # only a hash is stored
    now = database_now(database)
    assert near(first["created_at"], now)
    assert near(first["expires_at"], now + timedelta(seconds=3600))
    assert await store.read(lambda tx: tx.sessions.user("s-1")) == ADMIN
    age(database, "dashboard_sessions", "expires_at", 1, f"id = '{first['id']}'")
    assert await store.read(lambda tx: tx.sessions.user("s-1")) is None
    await store.write(lambda tx: tx.sessions.close("s-2"))
    await store.write(lambda tx: tx.sessions.open("s-3", ADMIN, 60))  # sweeps the expired
    assert count(database, "dashboard_sessions") == 1


async def test_a_session_keeps_its_user_s_role_and_closes_with_the_user(store, database):
    anna, boris = SessionUser("anna", Role.STAFF), SessionUser("boris", Role.ADMIN)
    for sid, user in (("a-1", anna), ("a-2", anna), ("b-1", boris)):
        await store.write(lambda tx, sid=sid, user=user: tx.sessions.open(sid, user, 3600))
    kept = rows(database, "SELECT username, role FROM dashboard_sessions ORDER BY username")
    assert [(r["username"], r["role"]) for r in kept] == [
        ("anna", "staff"),
        ("anna", "staff"),
        ("boris", "admin"),
    ]
    assert await store.read(lambda tx: tx.sessions.user("a-2")) == anna
    assert await store.write(lambda tx: tx.sessions.close_all("anna")) == 2
    assert await store.read(lambda tx: tx.sessions.user("a-1")) is None
    assert [r["username"] for r in rows(database, "SELECT username FROM dashboard_sessions")] == [
        "boris"
    ]
    assert await store.write(lambda tx: tx.sessions.close_all()) == 1
    assert count(database, "dashboard_sessions") == 0


async def test_dashboard_users_are_added_once_counted_and_removed(store, database):
    assert await store.write(lambda tx: tx.users.add("vera", Role.STAFF, "scrypt$hash-v"))
    assert await store.write(lambda tx: tx.users.add("anna", Role.ADMIN, "scrypt$hash-a"))
    assert not await store.write(lambda tx: tx.users.add("anna", Role.STAFF, "other"))
    kept = rows(database, "SELECT * FROM dashboard_users ORDER BY name")
    assert [(r["name"], r["role"], r["password_hash"]) for r in kept] == [
        ("anna", "admin", "scrypt$hash-a"),  # the second add changed nothing
        ("vera", "staff", "scrypt$hash-v"),
    ]
    assert near(kept[0]["created_at"], database_now(database))
    listed = await store.read(lambda tx: tx.users.all())
    assert [(u.name, u.role, u.created_at) for u in listed] == [
        (r["name"], Role(r["role"]), r["created_at"]) for r in kept
    ]
    anna = await store.read(lambda tx: tx.users.get("anna"))
    assert anna is not None and anna.password_hash == "scrypt$hash-a"
    assert "hash-a" not in repr(anna)  # never printed by accident
    counts = await store.read(
        lambda tx: (tx.users.count(), tx.users.count(Role.ADMIN), tx.users.count(Role.STAFF))
    )
    assert counts == (2, 1, 1)
    assert await store.write(lambda tx: tx.users.remove("vera"))
    assert not await store.write(lambda tx: tx.users.remove("vera"))
    assert [r["name"] for r in rows(database, "SELECT name FROM dashboard_users")] == ["anna"]
    assert await store.read(lambda tx: tx.users.get("vera")) is None


async def test_a_kept_secret_is_made_once_and_read_again_after_a_restart(store, database):
    first = await store.kept_secret("dashboard_secret_key")
    assert len(first) >= 40 and await store.kept_secret("dashboard_secret_key") == first
    assert await store.kept_secret("another") != first
    again = await open_store(database, 1.0, zone=ZONE)  # the next start, on the same database
    try:
        assert await again.kept_secret("dashboard_secret_key") == first
    finally:
        await again.close()
    if backend(database) == "sqlite":  # a file beside the database, its owner's alone
        beside = Path(database).with_name("leadrelay.db.dashboard_secret_key")
        assert beside.read_text().strip() == first
        assert stat.S_IMODE(beside.stat().st_mode) == 0o600
        assert [p.name for p in beside.parent.iterdir() if p.name.startswith(".")] == []
    else:  # a row every host reads
        kept = rows(database, "SELECT name, value FROM generated_secrets ORDER BY name")
        assert [(r["name"], r["value"] == first) for r in kept] == [
            ("another", False),
            ("dashboard_secret_key", True),
        ]


async def test_leads_and_counters_agree_with_their_tables(store, database):
    made = [
        await store.write(
            lambda tx, n=n: LeadService.create_lead(tx, NewLead(campaign_id=f"c{n % 2}"))
        )
        for n in range(3)
    ]
    lead_ids = [lead_id for lead_id, _ in made]
    listed = await store.read(lambda tx: tx.leads.many(lead_ids))
    table = rows(database, "SELECT id, campaign_id, version FROM leads")
    assert {lead.id: lead.campaign_id for lead in listed.values()} == {
        r["id"]: r["campaign_id"] for r in table
    }
    assert await store.read(lambda tx: tx.leads.version(lead_ids[0])) == 1
    totals = await store.read(lambda tx: tx.stats.totals())
    assert totals["leads"] == count(database, "leads") == 3
    campaigns = await store.read(lambda tx: tx.stats.campaigns())
    assert [(c.campaign_id, c.leads) for c in campaigns] == [
        (r["campaign_id"], r["leads"])
        for r in rows(database, "SELECT campaign_id, leads FROM campaign_stats ORDER BY leads DESC")
    ]
    days = await store.read(lambda tx: tx.stats.daily("2000-01-01"))
    assert sum(day["leads"] for day in days) == 3


async def test_payment_checks_take_the_paid_leads_asked_longest_ago(store, database):
    ids = []
    for n in range(4):
        lead = NewLead(campaign_id="c1", phone=f"+7916123456{n}")
        lead_id, _ = await store.write(lambda tx, lead=lead: LeadService.create_lead(tx, lead))
        sent = LeadSentToCrm("amo" if n < 3 else "b24", crm_lead_id=str(n))
        await store.write(lambda tx, i=lead_id, e=sent: LeadService.record(tx, i, e))
        if n != 1:  # lead 1 is delivered, not paid
            paid = PaymentRegistered(Decimal(10), "RUB", stored(ago(hours=1)), source="amo")
            await store.write(lambda tx, i=lead_id, e=paid: LeadService.record(tx, i, e))
        ids.append(lead_id)

    first = await store.read(lambda tx: tx.payment_checks.due("amo", 10))
    assert {lead.id for lead in first} == {ids[0], ids[2]}  # paid, and on this connection
    await store.write(lambda tx: tx.payment_checks.checked([ids[0]]))
    [kept] = rows(database, "SELECT * FROM payment_checks")
    assert kept["lead_id"] == ids[0] and near(kept["checked_at"], database_now(database))
    order = await store.read(lambda tx: tx.payment_checks.due("amo", 10))
    assert [lead.id for lead in order] == [ids[2], ids[0]]  # never asked goes first
    await store.write(lambda tx: tx.payment_checks.checked([ids[2]]))
    age(database, "payment_checks", "checked_at", 60)  # both asked a minute ago …
    await store.write(lambda tx: tx.payment_checks.checked([ids[0]]))  # … and lead 0 again now
    [oldest] = await store.read(lambda tx: tx.payment_checks.due("amo", 1))
    assert oldest.id == ids[2]
    assert count(database, "payment_checks") == 2
