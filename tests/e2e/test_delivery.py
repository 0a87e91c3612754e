"""Ingest and dispatcher as real processes deliver every lead to the emulated CRMs."""

from collections import Counter

import aiohttp

from tests.emulators.faults import Faults
from tests.helpers import rows, wait_for_async

CAMPAIGNS = ("amo-campaign", "b24-campaign", "shop-campaign")


async def post_leads(system, count: int, campaigns=CAMPAIGNS, first: int = 0) -> list[str]:
    """`count` leads from different clients (numbered from `first`: no repeat submissions)."""
    ids = []
    async with aiohttp.ClientSession() as http:
        for n in range(first, first + count):
            lead = {
                "name": f"Client {n}",
                "phone": f"+7916{n:07d}",
                "campaign_id": campaigns[n % len(campaigns)],
                "utm_source": "yandex",
            }
            async with http.post(
                f"{system.services['ingest'].url}/api/v1/leads", json=lead
            ) as resp:
                assert resp.status == 200, await resp.text()
                ids.append((await resp.json())["lead_id"])
    return ids


def statuses(system) -> Counter:
    return Counter(r["status"] for r in rows(system.db_path, "SELECT status FROM leads"))


async def all_sent(system, count: int, timeout: float = 60) -> None:
    async def done():
        return statuses(system)["sent_to_crm"] == count

    await wait_for_async(done, timeout=timeout, interval=0.1)


def delivered_ids(system) -> dict[str, list[str]]:
    """Lead ids each CRM holds, duplicates included."""
    return {
        "amo": [lead["request_id"] for lead in system.amo.received],
        "b24": [f["PHONE"][0]["VALUE"] for f in system.b24.received],
        "shop": [d["event"]["lead"]["id"] for d in system.shop.received],
    }


async def test_three_campaigns_reach_three_crms_in_their_formats(system):
    system.config()
    await system.start("ingest", "dispatcher")
    ids = await post_leads(system, 6)
    await all_sent(system, 6, timeout=20)

    assert len(system.amo.received) == len(system.b24.received) == len(system.shop.received) == 2
    amo_lead = system.amo.received[0]
    assert amo_lead["_embedded"]["tags"] == [{"name": "amo-campaign"}]
    assert amo_lead["custom_fields_values"] == [
        {"field_code": "UTM_SOURCE", "values": [{"value": "yandex"}]}
    ]
    b24_phones = [fields["PHONE"] for fields in system.b24.received]
    assert [{"VALUE": "+79160000001", "VALUE_TYPE": "WORK"}] in b24_phones
    assert system.shop.received[0]["event"]["type"] == "lead.created"

    leads = {r["id"]: r for r in rows(system.db_path, "SELECT * FROM leads")}
    assert leads[ids[0]]["crm_connection"] == "amo" and leads[ids[0]]["crm_lead_id"]
    # Deliveries run concurrently: each lead keeps the id its CRM answered for it.
    assert leads[ids[1]]["crm_connection"] == "b24"
    b24_ids = {leads[ids[n]]["crm_lead_id"] for n in (1, 4)}
    assert b24_ids == {"501", "502"}
    assert leads[ids[2]]["crm_lead_id"] == system.shop.ids[f"lead.created.{ids[2]}"]
    events = rows(system.db_path, "SELECT type, data FROM events WHERE stream_id = ?", (ids[0],))
    assert [e["type"] for e in events] == ["LEAD_CREATED", "LEAD_SENT_TO_CRM"]
    [stats] = rows(
        system.db_path, "SELECT * FROM campaign_stats WHERE campaign_id = 'amo-campaign'"
    )
    assert (stats["leads"], stats["leads_delivered"]) == (2, 2)
    assert system.cli("verify").returncode == 0


async def test_every_lead_arrives_through_failures_and_rate_limits(system):
    system.amo.faults = Faults(fail_rate=0.3, rate_limit=7, seed=1)
    system.b24.faults = Faults(fail_rate=0.3, rate_limit=2, seed=2)
    system.shop.faults = Faults(fail_rate=0.3, seed=3)
    system.config()
    await system.start("ingest", "dispatcher")
    ids = await post_leads(system, 30)
    await all_sent(system, 30, timeout=90)

    held = delivered_ids(system)
    assert sorted(set(held["amo"]) | set(held["shop"])) == sorted(
        i for n, i in enumerate(ids) if n % 3 != 1
    )
    assert len(set(held["b24"])) == 10
    refused = system.amo.refused + system.b24.refused + system.shop.refused
    assert refused > 5, "the faults should have bitten"
    errors = rows(system.db_path, "SELECT last_error FROM tasks WHERE last_error IS NOT NULL")
    assert errors, "retried tasks keep their last error"
    assert system.cli("verify").returncode == 0


async def test_killed_dispatcher_loses_nothing(system):
    system.amo.faults = Faults(delay=0.2)
    system.shop.faults = Faults(delay=0.2)
    system.config()
    await system.start("ingest", "dispatcher")
    ids = await post_leads(system, 40, campaigns=("amo-campaign", "shop-campaign"))

    async def some_delivered():
        return 3 <= statuses(system)["sent_to_crm"] < 40

    await wait_for_async(some_delivered, timeout=30, interval=0.02)
    system.services["dispatcher"].kill()
    in_flight = rows(system.db_path, "SELECT count(*) AS n FROM tasks WHERE status='processing'")
    await system.start("dispatcher")
    await all_sent(system, 40, timeout=60)

    held = delivered_ids(system)
    assert sorted(set(held["amo"]) | set(held["shop"])) == sorted(ids)
    # Redeliveries to the generic CRM carry the same webhook-id, so it can deduplicate.
    for delivery in system.shop.received:
        assert delivery["webhook_id"] == f"lead.created.{delivery['event']['lead']['id']}"
    assert in_flight[0]["n"] > 0, "the kill should have left leased tasks behind"
    assert system.services["dispatcher"].stop() == 0  # SIGTERM: clean exit
    assert system.cli("verify").returncode == 0


async def test_a_call_longer_than_many_leases_is_not_taken_over_while_its_dispatcher_lives(
    system,
):
    """Leases are short so a dead dispatcher's work comes back soon; a live one's heartbeats
    keep its work its own however long the CRM takes, even with a second dispatcher
    looking for due tasks all along."""
    # Four leases of 2 s (heartbeats every 0.67 s: a loaded machine's slow renewal still
    # lands in time, as it did not always with leases of 1 s).
    system.shop.faults = Faults(delay=8.0)
    path = system.config()
    path.write_text(path.read_text().replace("request_timeout = 2\n", "request_timeout = 20\n"))
    await system.start("ingest", "dispatcher")
    await system.start_instance("dispatcher", 1)
    ids = await post_leads(system, 3, campaigns=("shop-campaign",))
    await all_sent(system, 3, timeout=30)

    assert sorted(delivered_ids(system)["shop"]) == sorted(ids)  # each exactly once
    tasks = rows(system.db_path, "SELECT status, attempts FROM tasks")
    assert tasks == [{"status": "completed", "attempts": 1}] * 3
    assert system.cli("verify").returncode == 0


async def test_unrouted_campaign_ends_crm_failed_with_a_reason(system):
    system.config()
    await system.start("ingest", "dispatcher")
    [lead_id] = await post_leads(system, 1, campaigns=("nowhere",))

    async def failed():
        return statuses(system)["crm_failed"] == 1

    await wait_for_async(failed, timeout=20)
    [lead] = rows(system.db_path, "SELECT * FROM leads WHERE id = ?", (lead_id,))
    assert "no CRM route for campaign 'nowhere'" in lead["last_error"]
    [task] = rows(system.db_path, "SELECT * FROM tasks")
    assert task["status"] == "failed" and task["attempts"] == 1
    types = [r["type"] for r in rows(system.db_path, "SELECT type FROM events ORDER BY position")]
    assert types == ["LEAD_CREATED", "LEAD_CRM_DELIVERY_FAILED"]
    [stats] = rows(system.db_path, "SELECT * FROM campaign_stats")
    assert stats["delivery_failed"] == 1


async def test_a_hanging_crm_times_out_and_the_lead_arrives_later(system):
    system.amo.faults = Faults(hang=True)
    system.config()  # request_timeout = 2 s
    await system.start("ingest", "dispatcher")
    [lead_id] = await post_leads(system, 1, campaigns=("amo-campaign",))

    async def timed_out():
        found = rows(system.db_path, "SELECT last_error FROM tasks WHERE status = 'pending'")
        return (
            found and found[0]["last_error"] and "did not answer in time" in found[0]["last_error"]
        )

    await wait_for_async(timed_out, timeout=20)
    system.amo.faults = Faults()
    await all_sent(system, 1, timeout=20)
    assert [lead["request_id"] for lead in system.amo.received] == [lead_id]
