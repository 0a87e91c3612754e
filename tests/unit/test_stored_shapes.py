"""Typed events and task payloads keep the JSON earlier versions stored: old rows still read,
replay and verify, and new rows are written in the same shape."""

import json
from decimal import Decimal

from common.events import (
    LeadCreated,
    LeadCrmDeliveryFailed,
    LeadLost,
    LeadMergedInCrm,
    LeadRepeated,
    LeadSentToCrm,
    PaymentRegistered,
    YandexConversionFailed,
    YandexConversionProcessed,
    YandexConversionSkipped,
    YandexDirectConversion,
)
from common.model import EventType, NewLead
from common.store.codec import event_data, event_of
from common.store.replay import rebuild, verify
from common.tasks import CheckUpload, ImportDirectCosts, ResolveDeal, SendToCrm, SendToYandex
from tests.helpers import ago, execute, rows, stored

SUBMITTED = {
    "campaign_id": "spring",
    "name": "Иван",
    "phone": "+79161234567",
    "yclid": "4781234567",
    "extra": {"formid": "form1"},
    "warnings": [{"field": "email", "value": "ivan@", "reason": "not a valid email"}],
}
LEAD = NewLead(
    campaign_id="spring",
    name="Иван",
    phone="+79161234567",
    yclid="4781234567",
    extra={"formid": "form1"},
    warnings=[{"field": "email", "value": "ivan@", "reason": "not a valid email"}],
)
PAID_AT = stored(ago(days=1))
# Each event type as an earlier version wrote its `data`, and the event it reads as.
OLD_HISTORY = [
    (EventType.LEAD_CREATED, SUBMITTED, LeadCreated(LEAD)),
    (EventType.LEAD_REPEATED, SUBMITTED, LeadRepeated(LEAD)),
    (
        EventType.LEAD_CRM_DELIVERY_FAILED,
        {"connection": "amo", "reason": "HTTP 400"},
        LeadCrmDeliveryFailed("HTTP 400", connection="amo"),
    ),
    (
        EventType.LEAD_SENT_TO_CRM,
        {"connection": "amo", "kind": "amocrm", "crm_lead_id": None, "problems": ["no note"]},
        LeadSentToCrm("amo", kind="amocrm", problems=("no note",)),
    ),
    (
        EventType.PAYMENT_REGISTERED,
        {"amount": "1500.50", "currency": "RUB", "paid_at": PAID_AT, "source": "amo"},
        PaymentRegistered(Decimal("1500.50"), "RUB", PAID_AT, source="amo"),
    ),
    (
        EventType.YANDEX_DIRECT_CONVERSION,
        {"upload_id": "9001", "counter_id": 42, "target": "paid", "id_type": "yclid"},
        YandexDirectConversion("9001", 42, "paid", "yclid"),
    ),
    (
        EventType.YANDEX_CONVERSION_PROCESSED,
        {"upload_id": "9001", "linked": "unknown", "reason": "still processing"},
        YandexConversionProcessed("9001", "unknown", reason="still processing"),
    ),
    (EventType.YANDEX_CONVERSION_FAILED, {"reason": "refused"}, YandexConversionFailed("refused")),
    (
        EventType.YANDEX_CONVERSION_SKIPPED,
        {"reason": "no yclid"},
        YandexConversionSkipped("no yclid"),
    ),
    (EventType.LEAD_LOST, {"source": "amo"}, LeadLost("amo")),
]


def write_old_history(location: str, lead_id: str) -> None:
    for version, (kind, data, _) in enumerate(OLD_HISTORY, start=1):
        execute(
            location,
            "INSERT INTO events (stream_id, version, type, data, metadata, created_at)"
            " VALUES (?, ?, ?, ?, '{}', ?)",
            (lead_id, version, kind, json.dumps(data), stored(ago(minutes=30 - version))),
        )


async def test_old_rows_read_as_typed_events_and_replay(store):
    write_old_history(store.location, "old-lead")
    events = await store.read(lambda tx: tx.events.read_stream("old-lead"))
    assert [e.payload for e in events] == [typed for _, _, typed in OLD_HISTORY]
    assert [e.type for e in events] == [kind for kind, _, _ in OLD_HISTORY]

    await rebuild(store)  # the projections come from the old rows alone
    assert await verify(store) == []
    lead = await store.read(lambda tx: tx.leads.get("old-lead"))
    assert (lead.status, lead.payment_amount, lead.extra) == (
        "paid",
        "1500.50",
        {"formid": "form1"},
    )
    assert lead.warnings == SUBMITTED["warnings"]


async def test_new_rows_are_written_in_the_shape_old_versions_wrote(store):
    def write(tx):
        for version, (_, _, typed) in enumerate(OLD_HISTORY):
            tx.events.append("new-lead", version, typed)

    await store.write(write)
    written = rows(store.location, "SELECT type, data FROM events ORDER BY version")
    expected = [
        (kind, {k: v for k, v in data.items() if v is not None}) for kind, data, _ in OLD_HISTORY
    ]
    assert [(r["type"], json.loads(r["data"])) for r in written] == expected


async def test_task_payloads_are_typed_and_old_ones_with_a_lead_id_still_read(store):
    def enqueue(tx):
        tx.tasks.enqueue(SendToCrm(), lead_id="lead-1")
        tx.tasks.enqueue(SendToYandex(), lead_id="lead-1")
        tx.tasks.enqueue(ResolveDeal("b24", "78", 5))
        tx.tasks.enqueue(CheckUpload("9001"), lead_id="lead-1")

    await store.write(enqueue)
    stored_payloads = rows(store.location, "SELECT payload FROM tasks ORDER BY id")
    assert [json.loads(r["payload"]) for r in stored_payloads] == [
        {},
        {},
        {"connection": "b24", "deal_id": "78", "receipt_id": 5},
        {"upload_id": "9001"},  # the lead is the task's column, not repeated here
    ]
    # As earlier versions wrote them: the lead in the payload too.
    now = stored(ago())
    execute(
        store.location,
        "INSERT INTO tasks (type, payload, lead_id, max_attempts, run_after, created_at,"
        " updated_at) VALUES ('check_yandex_upload', ?, 'lead-2', 10, ?, ?, ?)",
        (json.dumps({"lead_id": "lead-2", "upload_id": "9002"}), now, now, now),
    )
    tasks = [await store.read(lambda tx, i=i: tx.tasks.get(i)) for i in range(1, 6)]
    assert [t.payload for t in tasks] == [
        SendToCrm(),
        SendToYandex(),
        ResolveDeal("b24", "78", 5),
        CheckUpload("9001"),
        CheckUpload("9002"),
    ]
    assert [t.lead_id for t in tasks] == ["lead-1", "lead-1", None, "lead-1", "lead-2"]


async def test_a_conversion_row_with_its_upload_alone_still_reads(store):
    """bench/dashboard_admin.py (and early test data) wrote only the upload id."""
    write_old_history(store.location, "old-lead")
    execute(
        store.location,
        "INSERT INTO events (stream_id, version, type, data, metadata, created_at)"
        " VALUES ('old-lead', 11, 'YANDEX_DIRECT_CONVERSION', '{\"upload_id\": \"1\"}', '{}', ?)",
        (stored(ago()),),
    )
    [latest] = await store.read(lambda tx: tx.events.latest(1))
    assert latest.payload == YandexDirectConversion("1")


def test_a_merged_lead_is_stored_in_its_own_shape():
    merged = LeadMergedInCrm("amo", "7", "L1")
    data = {"connection": "amo", "crm_lead_id": "7", "into_lead_id": "L1"}
    assert event_data(merged) == data
    assert event_of(EventType.LEAD_MERGED_IN_CRM, data) == merged


async def test_payment_changes_are_stored_in_their_shape_and_read_back(store):
    """PAYMENT_AMOUNT_SET, PAYMENT_CORRECTED, PAYMENT_REVERSED and a pending payment: each
    field under its name, amounts as exact text, defaults left out."""
    from common.events import PaymentAmountSet, PaymentCorrected, PaymentReversed

    written = [
        PaymentRegistered(Decimal("0.00"), "RUB", PAID_AT, "b24", pending=True, deal_id="77"),
        PaymentAmountSet(Decimal("2500.00"), "RUB", PAID_AT, source="b24"),
        PaymentCorrected(Decimal("2000.50"), Decimal("2500.00"), "RUB", PAID_AT),
        PaymentReversed(Decimal("2000.50"), PAID_AT, "deleted", source="b24"),
    ]
    await store.write(lambda tx: [tx.events.append("l", n, e) for n, e in enumerate(written)])
    found = rows(store.location, "SELECT type, data FROM events ORDER BY version")
    money = {"currency": "RUB", "paid_at": PAID_AT}
    assert [(r["type"], json.loads(r["data"])) for r in found] == [
        (
            "PAYMENT_REGISTERED",
            {"amount": "0.00", **money, "source": "b24", "pending": True, "deal_id": "77"},
        ),
        ("PAYMENT_AMOUNT_SET", {"amount": "2500.00", **money, "source": "b24"}),
        ("PAYMENT_CORRECTED", {"amount": "2000.50", "previous": "2500.00", **money}),
        (
            "PAYMENT_REVERSED",
            {"amount": "2000.50", "paid_at": PAID_AT, "reason": "deleted", "source": "b24"},
        ),
    ]
    events = await store.read(lambda tx: tx.events.read_stream("l"))
    assert [e.payload for e in events] == written


async def test_a_cost_import_keeps_its_days_as_dates_and_its_report_name(store):
    today = ago().date()
    scheduled = ImportDirectCosts(today, today, "leadrelay_x_at_2026112909", scheduled=True)
    by_hand = ImportDirectCosts(today, today, "leadrelay_y")
    ids = await store.write(lambda tx: [tx.tasks.enqueue(t) for t in (scheduled, by_hand)])
    stored_payloads = rows(store.location, "SELECT type, payload FROM tasks ORDER BY id")
    day = today.isoformat()
    assert [(r["type"], json.loads(r["payload"])) for r in stored_payloads] == [
        (
            "import_direct_costs",
            {
                "date_from": day,
                "date_to": day,
                "report_name": scheduled.report_name,
                "scheduled": True,
            },
        ),
        ("import_direct_costs", {"date_from": day, "date_to": day, "report_name": "leadrelay_y"}),
    ]
    read = [await store.read(lambda tx, i=i: tx.tasks.get(i)) for i in ids]
    assert [t.payload for t in read] == [scheduled, by_hand]


def test_an_erasure_and_the_retention_task_are_stored_in_their_shapes():
    from common.events import LeadErased
    from common.model import TaskType
    from common.store.codec import task_data, task_payload_of
    from common.tasks import EraseExpired

    erased = LeadErased("anna", "ticket 7")
    assert event_data(erased) == {"actor": "anna", "reason": "ticket 7"}
    assert event_of(EventType.LEAD_ERASED, {"actor": "system"}) == LeadErased("system")
    assert task_data(EraseExpired(365)) == {"days": 365}
    assert task_payload_of(TaskType.ERASE_EXPIRED, {"days": 365}) == EraseExpired(365)
