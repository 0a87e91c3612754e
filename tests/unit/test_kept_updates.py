"""On SQLite a batch keeps its leads' UPDATEs by key and sends them as one UPDATE … FROM
(VALUES …) (common/store/sqlite/updates.py). Whatever is kept, every lead must end as its own
last UPDATE left it, and a read in the batch must see the UPDATEs before it."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from common.leads import LeadService
from common.model import NewLead
from common.store import open_store
from common.store.sqlite.updates import KeptUpdates, joined
from tests.helpers import rows

SET = (
    "UPDATE leads SET crm_lead_id = ?, version = ?,"
    " status = CASE WHEN status IN (?) THEN status ELSE ? END WHERE id = ?"
)


async def test_a_batch_of_lead_updates_goes_as_one_statement_each_row_its_own(tmp_path):
    database = str(tmp_path / "leadrelay.db")
    store = await open_store(database, 0.2, zone=ZoneInfo("Europe/Moscow"))
    try:
        leads = [
            (
                await store.write(
                    lambda tx, n=n: LeadService.create_lead(tx, NewLead(campaign_id=f"c{n}"))
                )
            )[0]
            for n in range(5)
        ]
        sent: list[str] = []
        store.writer._conn.set_trace_callback(sent.append)  # what the writer runs

        def settle(tx):
            for n, lead in enumerate(leads[:4]):  # 7 and "007" must stay as sent
                crm = [7, "007", None, "x"][n]
                tx.sql.send(SET, (crm, 10 + n, "paid", "sent", lead))
            seen = tx.sql.value("SELECT crm_lead_id FROM leads WHERE id = ?", (leads[1],))
            tx.sql.send(SET, ("again", 20, "paid", "sent", leads[4]))
            tx.sql.send(SET, ("first", 21, "paid", "sent", leads[0]))
            tx.sql.send(SET, ("last", 22, "paid", "sent", leads[0]))  # the last one wins
            return seen

        assert await store.write(settle) == "007"  # the read came after the first four
    finally:
        await store.close()
    joins = [s for s in sent if s.startswith("UPDATE leads") and "FROM (VALUES" in s]
    assert len(joins) == 2  # the four before the read, then two
    updates = [s for s in sent if s.startswith("UPDATE leads")]
    assert updates[:2] == joins and len(updates) == 3  # the last row went alone
    assert "'last'" in updates[2] and "FROM (VALUES" not in updates[2]
    found = {
        r["id"]: r for r in rows(database, "SELECT id, crm_lead_id, version, status FROM leads")
    }
    expected = {
        leads[0]: ("last", 22),
        leads[1]: ("007", 11),
        leads[2]: (None, 12),
        leads[3]: ("x", 13),
        leads[4]: ("again", 20),
    }
    for lead, (crm, version) in expected.items():
        assert (found[lead]["crm_lead_id"], found[lead]["version"]) == (crm, version)
        assert found[lead]["status"] == "sent"


def test_only_an_update_of_a_lead_by_its_key_is_kept():
    assert KeptUpdates.takes(SET)
    assert not KeptUpdates.takes("UPDATE leads SET status = ? WHERE id = ? RETURNING version")
    assert not KeptUpdates.takes("UPDATE leads SET a = x.b FROM x WHERE id = ?")
    assert not KeptUpdates.takes("UPDATE tasks SET status = ? WHERE id = ?")
    assert not KeptUpdates.takes("UPDATE leads SET status = ? WHERE crm_lead_id = ?")


def test_the_set_clause_reads_its_values_row_column_by_column():
    rows_ = [("a", 1, "paid", "sent", "L1"), ("b", 2, "paid", "sent", "L2")]
    [(statement, params)] = list(joined(SET, rows_, 999))
    assert statement == (
        "UPDATE leads SET crm_lead_id = v.column1, version = v.column2,"
        " status = CASE WHEN status IN (v.column3) THEN status ELSE v.column4 END"
        " FROM (VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)) AS v WHERE leads.id = v.column5"
    )
    assert params == [*rows_[0], *rows_[1]]
    # Within the connection's limit of parameters: 11 rows of 5 at most 20 a statement.
    sizes = [len(p) // 5 for _, p in joined(SET, rows_ * 5 + rows_[:1], 20)]
    assert sizes == [4, 4, 2, 1]
