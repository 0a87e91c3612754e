"""The contract of dismissing an unmatched payment on every backend: only an open one, with
when and why; brought back only from dismissed; the cap counts open ones alone; a repeated
notice of a dismissed deal leaves it as it is."""

from __future__ import annotations

from datetime import timedelta

from common import clock
from common.store.unmatched import OPEN_COUNT
from tests.contract.kit import backend, count, database_now, insert_many
from tests.helpers import execute, rows

SLACK = timedelta(seconds=5)


def keeper(ref: str, cap: int | None = None):
    def keep(tx):
        return tx.unmatched.keep("amo", ref, "100.00", "RUB", "2000-01-01T00:00:00.000000Z", cap)

    return keep


async def test_an_open_payment_is_dismissed_once_and_brought_back_once(store, database):
    first = await store.write(keeper("deal-1"))
    assert await store.write(lambda tx: tx.unmatched.dismiss(first, "a test deal"))
    assert not await store.write(lambda tx: tx.unmatched.dismiss(first, "again"))
    [kept] = rows(database, "SELECT * FROM unmatched_payments")
    assert (kept["status"], kept["dismissed_reason"]) == ("dismissed", "a test deal")
    assert abs(clock.parse(kept["dismissed_at"]) - database_now(database)) < SLACK
    assert await store.read(lambda tx: tx.unmatched.open()) == []
    [listed] = await store.read(lambda tx: tx.unmatched.dismissed())
    assert (listed.id, listed.dismissed_reason) == (first, "a test deal")
    assert not await store.write(lambda tx: tx.unmatched.attach(first, "lead-1"))  # not open

    assert await store.write(lambda tx: tx.unmatched.reopen(first))
    assert not await store.write(lambda tx: tx.unmatched.reopen(first))  # open already
    [back] = await store.read(lambda tx: tx.unmatched.open())
    assert (back.id, back.status, back.dismissed_at, back.dismissed_reason) == (
        first,
        "open",
        None,
        None,
    )
    assert await store.read(lambda tx: tx.unmatched.dismissed()) == []
    assert await store.write(lambda tx: tx.unmatched.attach(first, "lead-1"))
    assert not await store.write(lambda tx: tx.unmatched.dismiss(first, "too late"))
    assert not await store.write(lambda tx: tx.unmatched.reopen(first))
    assert not await store.write(lambda tx: tx.unmatched.dismiss(999, "no such payment"))


async def test_a_dismissed_payment_makes_room_and_its_repeat_stays_dismissed(store, database):
    first = await store.write(keeper("deal-1", cap=1))
    assert await store.write(keeper("deal-2", cap=1)) is None  # full
    await store.write(lambda tx: tx.unmatched.dismiss(first, "demo data"))
    assert await store.read(lambda tx: tx.unmatched.open_count("amo")) == 0
    assert await store.write(keeper("deal-1", cap=1)) == first  # the same deal again
    second = await store.write(keeper("deal-2", cap=1))
    assert second is not None and second != first
    assert count(database, "unmatched_payments") == 2
    [kept] = rows(database, "SELECT status FROM unmatched_payments WHERE id = ?", (first,))
    assert kept["status"] == "dismissed"


async def test_a_connection_s_open_payments_are_counted_through_their_index(store, database):
    """The cap's count (every deferred payment, and /healthz while a connection is full) reads
    the connection's open payments alone (0027), not every attached or dismissed one it had."""
    now = clock.now_iso()
    insert_many(
        database,
        "INSERT INTO unmatched_payments (connection, crm_ref, amount, currency, paid_at,"
        " received_at, status) VALUES ('amo', ?, '1.00', 'RUB', ?, ?, ?)",
        [(f"deal-{n}", now, now, "attached" if n % 2 else "dismissed") for n in range(3000)],
    )
    await store.write(keeper("deal-open"))
    assert await store.read(lambda tx: tx.unmatched.open_count("amo")) == 1
    execute(database, "ANALYZE")
    explain = "EXPLAIN" if backend(database) == "postgresql" else "EXPLAIN QUERY PLAN"
    plan = rows(database, f"{explain} {OPEN_COUNT}", ("amo",))
    shown = " ".join(str(value) for row in plan for value in row.values())
    assert "unmatched_open_by_connection" in shown, shown
