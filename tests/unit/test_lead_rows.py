"""A lead read from its row (common/store/leads.py sets each field through its slot, not the
dataclass's __init__): every column must land in its own field, on both backends."""

from dataclasses import fields

from common.model import LEAD_COLUMNS, Lead, LeadStatus
from tests.helpers import execute


def _every_field_its_own_value() -> dict[str, object]:
    """A distinct value for every column, so a field given another's shows."""
    values: dict[str, object] = {name: f"{name}-value" for name in LEAD_COLUMNS}
    values |= {
        "status": "sent_to_crm",
        "extra": '{"utm_id": "7"}',
        "warnings": '[{"field": "email", "value": "x", "reason": "not an e-mail"}]',
        "version": 4,
        "payment_pending": 1,
    }
    return values


async def test_every_column_of_a_lead_reads_into_its_own_field(store, database):
    values = _every_field_its_own_value()
    columns = ", ".join(values)
    marks = ", ".join("?" * len(values))
    execute(database, f"INSERT INTO leads ({columns}) VALUES ({marks})", tuple(values.values()))

    found = await store.read(lambda tx: tx.leads.find("id-value"))
    many = await store.read(lambda tx: tx.leads.many(["id-value"]))

    expected = Lead(
        **values
        | {
            "status": LeadStatus.SENT_TO_CRM,
            "extra": {"utm_id": "7"},
            "warnings": [{"field": "email", "value": "x", "reason": "not an e-mail"}],
            "payment_pending": True,
        }
    )
    assert found == expected and many == {"id-value": expected}
    assert {f.name for f in fields(Lead)} == set(LEAD_COLUMNS)  # no field left to a default
