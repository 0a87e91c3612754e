"""Which of our campaigns a Direct campaign's cost belongs to, rule by rule, read through the
campaign report (on both backends)."""

from datetime import timedelta
from decimal import Decimal

from common.report import Period, campaign_report
from tests.reporting import Leads, cost, local, record, today


async def lines(store, overrides=None, period=None):
    period = period or Period.ending(today(), 30)
    report = await store.read(lambda tx: campaign_report(tx, period, overrides or {}))
    return {line.name: line for line in report.campaigns}


def costs_of(line) -> tuple[Decimal, list[str]]:
    return line.figures.cost, line.direct_campaign_ids


async def test_an_override_by_id_or_by_name_comes_first(store):
    yesterday = today() - timedelta(days=1)
    leads = Leads(store)
    await leads.add("spring", local(yesterday))
    await leads.add("555", local(yesterday))  # would match the id: the override wins
    await leads.add("autumn", local(yesterday))
    await leads.settle()
    await record(store, cost(yesterday, "555", "100", name="Brand"))
    await record(store, cost(yesterday, "556", "40", name="Search Autumn"))
    found = await lines(store, {"555": "Spring", "search AUTUMN": "autumn"})
    assert costs_of(found["spring"]) == (Decimal("100"), ["555"])
    assert costs_of(found["autumn"]) == (Decimal("40"), ["556"])
    assert found["555"].figures.cost_micros == 0 and found["555"].figures.leads == 1


async def test_our_campaign_of_the_same_id_or_name_without_case(store):
    day = today() - timedelta(days=2)
    leads = Leads(store)
    await leads.add("777", local(day))
    await leads.add("summer", local(day))
    await leads.settle()
    await record(store, cost(day, "777", "70", name="Anything"))
    await record(store, cost(day, "900", "30", name="SUMMER"))
    found = await lines(store)
    assert costs_of(found["777"]) == (Decimal("70"), ["777"])
    assert costs_of(found["summer"]) == (Decimal("30"), ["900"])
    assert set(found) == {"777", "summer"}


async def test_the_campaign_of_the_leads_whose_utm_campaign_is_the_id_or_name(store):
    day = today() - timedelta(days=1)
    leads = Leads(store)
    for _ in range(3):  # Direct's {campaign_id} macro in the landing page's URL
        await leads.add("landing-a", local(day), utm="31415")
    await leads.add("landing-b", local(day), utm="31415")  # fewer: not this one
    await leads.add("landing-c", local(day), utm="winter promo")  # Tilda lower-cased it
    await leads.settle()
    await record(store, cost(day, "31415", "12.5"), cost(day, "27182", "8", name="Winter Promo"))
    found = await lines(store)
    assert costs_of(found["landing-a"]) == (Decimal("12.5"), ["31415"])
    assert costs_of(found["landing-c"]) == (Decimal("8"), ["27182"])
    assert found["landing-b"].figures.cost_micros == 0


async def test_a_direct_campaign_attached_to_none_is_shown_on_its_own_row(store):
    day = today() - timedelta(days=4)
    leads = Leads(store)
    await leads.add("spring", local(day), utm="elsewhere")
    # Leads with its utm_campaign came before the period only: not this period's leads.
    await leads.add("old", local(day - timedelta(days=60)), utm="4242")
    await leads.settle()
    await record(store, cost(day - timedelta(days=1), "4242", "100", name="Весна"))
    await record(store, cost(day, "4242", "300", name="Лето"))
    found = await lines(store, {"nothing": "spring"})
    lonely = found["Direct: Лето"]  # its name as Direct last reported it
    assert (lonely.campaign_id, lonely.direct_name) == (None, "Лето")
    assert costs_of(lonely) == (Decimal("400"), ["4242"])
    assert lonely.figures.unpaid_cost and lonely.figures.leads == 0
    assert "old" not in found and found["spring"].figures.cost_micros == 0
    # The same Direct campaign over a period that holds those leads: theirs.
    wide = Period(day - timedelta(days=61), today())
    assert costs_of((await lines(store, period=wide))["old"]) == (Decimal("400"), ["4242"])
