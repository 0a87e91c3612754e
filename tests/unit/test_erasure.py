"""Erasing a person's data: gone from every table, the task rows and the database's files,
while the lead's money, campaign and history stay and `verify` agrees (issue 19, item 3)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import psycopg

from common.config import IngestSettings
from common.erasure import Request, erase, erase_expired, leads_of
from common.events import LeadCrmDeliveryFailed, LeadErased, LeadRepeated, PaymentRegistered
from common.leads import LeadService, Submission
from common.model import NewLead
from common.store import Store, Tx
from common.store.replay import rebuild, verify
from common.store.sqlite.backup import copy_into, partial_of, publish, seal
from tests.helpers import ago, rows, stored
from tests.integration.test_retention import made_old
from tests.unit.test_cli import run

PHONE, EMAIL, NAME = "+79161234567", "Anna.Petrova@Example.ru", "Анна Петрова"
OTHER_PHONE, OTHER_EMAIL = "+79035550011", "boris@example.ru"
# How the contact may be written in what others stored: each must be gone afterwards.
TRACES = (
    PHONE,
    "9161234567",
    EMAIL.lower(),
    "anna.petrova%40example.ru",
    "Петрова",
    "1700000000123456789",
)


def person(phone: str = PHONE, email: str = EMAIL, name: str = NAME, **more: object) -> NewLead:
    return NewLead(
        campaign_id="spring",
        name=name,
        phone=phone,
        email=email,
        comment=f"call me at {phone}",
        utm_source="yandex",
        utm_medium="cpc",
        utm_campaign="spring",
        yclid="8364723",
        ym_client_id="1700000000123456789",
        page_url=f"https://shop.example/landing?utm_source=yandex&phone={phone}#form",
        referrer="https://ya.ru/search?text=anna",
        extra={"tildaspec-cookie": "_ym_uid=1700000000123456789", "city": "Тверь"},
        warnings=[{"field": "email", "value": email, "reason": "shortened"}],
        **more,  # type: ignore[arg-type]
    )


def full_history(tx: Tx) -> str:
    """A lead with every place its person can end up: an idempotent submission, a repeat,
    a CRM's error quoting the phone, a payment, webhooks about it and one about nobody."""
    rules = IngestSettings()
    answer = LeadService.accept(tx, Submission(person(), {"request_id": "r1"}, "key-1", "f"), rules)
    lead_id = str(answer.answer["lead_id"])
    LeadService.record(tx, lead_id, LeadRepeated(person(email="anna@second.example")))
    LeadService.record(tx, lead_id, LeadCrmDeliveryFailed(f"400: phone {PHONE} taken", "amo"))
    LeadService.record(tx, lead_id, PaymentRegistered(Decimal("15000.00"), "RUB", stored(ago())))
    [task] = tx.tasks.open_of_lead(lead_id)
    tx.tasks.retry_later(task.id, 60, f"CRM said: duplicate contact {PHONE}")
    tx.receipts.keep(
        "amo",
        "m1",
        f'{{"lead":"{lead_id}","phone":"{PHONE}"}}'.encode(),
        {"status": "paid", "lead_id": lead_id},
    )
    unmatched = b"contacts[0][email]=anna.petrova%40example.ru&name=x"
    tx.receipts.keep("amo", "m2", unmatched, {"status": "unmatched"})
    return lead_id


def other_person(tx: Tx) -> str:
    boris = NewLead(campaign_id="spring", name="Борис", phone=OTHER_PHONE, email=OTHER_EMAIL)
    return LeadService.create_lead(tx, boris)[0]


def every_text(database: str) -> str:
    """Every text of every column of every table, one string: what a person's data must not
    be in."""
    texts: list[str] = []
    if database.startswith("postgresql"):
        with psycopg.connect(database) as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                )
            ]
            for table in tables:
                for row in conn.execute(f"SELECT * FROM {table}"):
                    texts += [str(value) for value in row if value is not None]
        return "\n".join(texts)
    conn = sqlite3.connect(database)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):
                texts += [str(value) for value in row if value is not None]
    finally:
        conn.close()
    return "\n".join(texts)


def traces_in(text: str) -> list[str]:
    return [trace for trace in TRACES if trace.lower() in text.lower()]


def file_bytes(*paths: Path) -> bytes:
    return b"".join(path.read_bytes() for path in paths if path.exists())


async def erased_lead(store: Store, how: str = "lead") -> tuple[str, str]:
    lead_id = await store.write(full_history)
    other = await store.write(other_person)
    assert traces_in(every_text(store.location)) == list(TRACES)  # all there before
    if how == "lead":
        ids = [lead_id]
    else:
        ids = await store.read(
            lambda tx: leads_of(
                tx, PHONE if how == "phone" else None, EMAIL if how == "email" else None
            )
        )
    assert ids == [lead_id]
    outcome = await erase(store, ids, Request("anna-admin", f"request about {PHONE}", "10.0.0.1"))
    assert outcome.erased == [lead_id] and outcome.traces_gone
    return lead_id, other


async def test_erasure_leaves_no_trace_in_any_table_and_keeps_the_money(store):
    lead_id, other = await erased_lead(store)
    assert traces_in(every_text(store.location)) == []
    [row] = rows(store.location, "SELECT * FROM leads WHERE id = ?", (lead_id,))
    assert row["name"] is row["phone"] is row["email"] is row["comment"] is None
    assert row["yclid"] is row["ym_client_id"] is row["email_key"] is row["name_key"] is None
    assert row["extra"] == "{}" and row["erased_at"] is not None
    assert (
        row["page_url"] == "https://shop.example/landing"
        and row["referrer"] == "https://ya.ru/search"
    )
    assert (row["status"], row["payment_amount"], row["utm_source"]) == (
        "paid",
        "15000.00",
        "yandex",
    )
    assert (row["campaign_id"], row["utm_medium"], row["utm_campaign"]) == (
        "spring",
        "cpc",
        "spring",
    )
    [stats] = rows(store.location, "SELECT leads, payments, revenue_minor FROM campaign_stats")
    assert (stats["leads"], stats["payments"], stats["revenue_minor"]) == (2, 1, 1500000)
    # the other person is untouched
    [kept] = rows(store.location, "SELECT phone, email FROM leads WHERE id = ?", (other,))
    assert kept == {"phone": OTHER_PHONE, "email": OTHER_EMAIL}
    # the idempotency answer naming the lead is gone; receipts keep their rows, not bodies
    assert rows(store.location, "SELECT key FROM idempotency_keys") == []
    bodies = rows(store.location, "SELECT message_id, body FROM webhook_receipts ORDER BY id")
    assert bodies[0] == {"message_id": "m1", "body": "[erased]"}
    assert "contacts[0][email]=[erased]" in bodies[1]["body"]
    # the history is whole and says who and why (the phone in the reason erased too)
    events = await store.read(lambda tx: tx.events.read_stream(lead_id))
    assert [e.type for e in events][-1] == "LEAD_ERASED"
    assert events[-1].payload == LeadErased("anna-admin", "request about [erased]")
    assert len(events) == 5
    [audit] = rows(store.location, "SELECT actor, action, target, address FROM audit_log")
    assert audit == {
        "actor": "anna-admin",
        "action": "erase",
        "target": lead_id,
        "address": "10.0.0.1",
    }
    assert await verify(store) == []
    await rebuild(store)
    assert await verify(store) == []
    [again] = rows(store.location, "SELECT * FROM leads WHERE id = ?", (lead_id,))
    assert again == row  # the rebuilt row is the erased one


async def test_erase_by_phone_or_email_finds_the_person_written_any_way(store):
    lead_id, _ = await erased_lead(store, "phone")
    assert traces_in(every_text(store.location)) == []
    assert await verify(store) == []


async def test_erase_by_email_without_case(store):
    await erased_lead(store, "email")
    assert traces_in(every_text(store.location)) == []


async def test_erasing_twice_is_harmless(store):
    lead_id, _ = await erased_lead(store)
    again = await erase(store, [lead_id], Request("anna-admin", "again"))
    assert again.erased == [] and again.already == [lead_id]
    events = await store.read(lambda tx: tx.events.read_stream(lead_id))
    assert sum(isinstance(e.payload, LeadErased) for e in events) == 1
    assert len(rows(store.location, "SELECT id FROM audit_log")) == 1
    assert await verify(store) == []


async def test_retention_erases_only_the_old_leads(store):
    old = await store.write(full_history)
    young = await store.write(other_person)
    await made_old(store, old, 40)
    outcome = await erase_expired(store, days=30)
    assert outcome.erased == [old]
    phones = {r["id"]: r["phone"] for r in rows(store.location, "SELECT id, phone FROM leads")}
    assert phones == {old: None, young: OTHER_PHONE}
    [audit] = rows(store.location, "SELECT actor, details FROM audit_log")
    assert audit["actor"] == "system" and "retention" in audit["details"]
    assert (await erase_expired(store, days=30)).erased == []  # done ones are not read again
    assert await verify(store) == []


async def test_sqlite_file_and_a_backup_after_hold_no_trace(database, store, tmp_path):
    if database.startswith("postgresql"):
        return await _postgres_files_hold_no_trace(store)
    db = Path(store.location)
    wal = db.with_name(db.name + "-wal")
    lead_id = await store.write(full_history)
    assert PHONE.encode() in file_bytes(db, wal)  # it was there
    await erase(store, [lead_id], Request("anna-admin"))
    for trace in (PHONE, EMAIL, EMAIL.lower(), NAME):
        assert trace.encode() not in file_bytes(db, wal), trace
    copy = tmp_path / "after.db"
    partial = partial_of(copy)  # the steps of `leadrelay backup`, without its verify
    copy_into(db, partial, 5.0)
    seal(partial)
    publish(partial, copy)
    for trace in (PHONE, EMAIL, EMAIL.lower(), NAME):
        assert trace.encode() not in copy.read_bytes(), trace


async def _postgres_files_hold_no_trace(store: Store) -> None:
    """No row holds the contact (above); where the server is on this machine and its files
    readable, the tables' files do not either."""
    with psycopg.connect(store.location, autocommit=True) as conn:
        # The session's database is emptied between tests by DELETE: earlier tests' rows stay
        # in the files as dead tuples until a rewrite. Rewrite everything first, so what is
        # found below is this test's own. (Only this database's tables: a bare VACUUM FULL
        # would also rewrite the server's shared catalogs, under other workers' feet.)
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        conn.execute("VACUUM FULL " + ", ".join(name for (name,) in tables.fetchall()))
        assert _files_holding(conn, PHONE) == []
        lead_id = await store.write(full_history)
        assert _files_holding(conn, PHONE) != []  # it was there
        await erase(store, [lead_id], Request("anna-admin"))
        assert _files_holding(conn, PHONE) == []


def _files_holding(conn: psycopg.Connection, trace: str) -> list[str]:
    """The relations (tables, indexes, TOAST) whose files hold `trace`, once the server has
    written every change to them (CHECKPOINT)."""
    conn.execute("CHECKPOINT")
    folder = Path(conn.execute("SHOW data_directory").fetchone()[0])
    files = [
        (folder / r[0], r[1])
        for r in conn.execute(
            "SELECT pg_relation_filepath(c.oid), c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname IN ('public', 'pg_toast') AND c.relkind IN ('r', 'i', 't')"
        )
        if r[0]
    ]
    assert files
    return [name for f, name in files if f.exists() and trace.encode() in f.read_bytes()]


async def test_a_bad_phone_is_refused_clearly(store):
    done = run(store.location, "erase", "--phone", "12ab")
    assert done.returncode == 2
    assert "erase: --phone is not" in done.stderr and "Traceback" not in done.stderr
    none = run(store.location, "erase", "--email", "nobody@example.ru")
    assert none.returncode == 0 and "nothing to erase" in none.stdout


async def test_the_command_erases_by_phone_as_a_person_writes_it(store):
    lead_id = await store.write(full_history)
    done = run(store.location, "erase", "--phone", "8 (916) 123-45-67", "--reason", "ticket 7")
    assert done.returncode == 0, done.stderr
    assert f"lead {lead_id} erased" in done.stdout
    assert traces_in(every_text(store.location)) == []
    [audit] = rows(store.location, "SELECT actor, details FROM audit_log")
    assert audit["actor"].startswith("cli") and "ticket 7" in audit["details"]
    assert run(store.location, "verify").returncode == 0
