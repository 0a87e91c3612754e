"""The campaign report's own rules (on both backends): the revenue's currency, and local days
in a zone whose midnight is not on a whole hour of UTC."""

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from common import clock
from common.report import Figures, Period, campaign_report
from common.store import open_store
from tests.helpers import stored
from tests.reporting import Leads, cost, local, record, today


async def report_of(store, period=None):
    period = period or Period.ending(today(), 30)
    return await store.read(lambda tx: campaign_report(tx, period, {}))


async def test_one_currency_ever_is_every_sale_s_and_romi_is_known(store):
    day = today() - timedelta(days=2)
    leads = Leads(store)
    await leads.add("spring", local(day), pay="300")
    await leads.add("spring", local(day))
    await leads.settle()
    await record(store, cost(day, "spring", "100"), cost(day - timedelta(days=1), "spring", "100"))
    report = await report_of(store)
    [line] = report.campaigns
    assert line.figures.revenue_currencies == {"RUB"} and line.figures.romi == Decimal(50)
    days = dict(report.days)
    assert days[day.isoformat()].revenue_currencies == {"RUB"}
    assert days[day.isoformat()].measures()["romi"] == Decimal("200.0")
    # The day before had cost and no sale: no revenue currency, and ROMI -100 %.
    before = days[(day - timedelta(days=1)).isoformat()]
    assert before.revenue_currencies == set() and before.measures()["romi"] == Decimal("-100.0")
    assert report.totals.measures()["cpl"] == Decimal("100.00")


async def test_revenue_in_another_currency_than_the_cost_has_no_romi(store):
    day = today() - timedelta(days=1)
    leads = Leads(store)
    await leads.add("export", local(day), pay="300", currency="usd")
    await leads.settle()
    await record(store, cost(day, "export", "100"))
    report = await report_of(store)
    [line] = report.campaigns
    assert line.figures.revenue_currencies == {"USD"} and line.figures.cost_currencies == {"RUB"}
    assert line.figures.romi is None and report.totals.romi is None
    assert dict(report.days)[day.isoformat()].romi is None
    assert line.figures.measures()["cost_per_sale"] == Decimal("100.00")


async def test_local_days_of_a_zone_half_an_hour_off_utc(settings):
    """Kolkata is UTC+05:30: its midnight is 18:30 UTC, inside an hour of UTC."""
    kolkata = ZoneInfo("Asia/Kolkata")
    store = await open_store(settings.database, settings.busy_timeout, zone=kolkata)
    try:
        day = clock.now().astimezone(kolkata).date() - timedelta(days=3)
        midnight = datetime.combine(day, time(), kolkata)
        leads = Leads(store)
        for minutes in (-31, -1, 0, 29):  # two leads the evening before, two after midnight
            await leads.add("c", midnight + timedelta(minutes=minutes), lost=True)
        await leads.settle()
        period = Period(day - timedelta(days=1), day)
        assert period.bounds(kolkata)[1] == stored(midnight + timedelta(days=1))
        found = dict((await report_of(store, period)).days)
    finally:
        await store.close()
    assert found[str(day - timedelta(days=1))].lost == 2 and found[str(day)].lost == 2
    assert found[str(day - timedelta(days=1))].leads == 2 and found[str(day)].leads == 2


async def test_a_long_period_by_points_has_the_numbers_of_its_days(store):
    """A year by week and three years by month (the overview's charts): each point is the
    sum of its days, and the lines and totals are the report by day's, to the kopeck."""
    from services.dashboard.charts import Axis

    leads = Leads(store)
    days = [today() - timedelta(days=n) for n in (0, 1, 6, 7, 8, 40, 200, 364, 700)]
    for n, day in enumerate(days):
        await leads.add("spring" if n % 2 else "Autumn", local(day), pay=f"{n}0.5" if n else None)
        await leads.add("autumn", local(day, 23, 30), lost=n == 3)
    await leads.settle()
    await record(store, *(cost(day, "spring", f"1{n}.25") for n, day in enumerate(days)))
    for period, grain, size in (
        (Period.ending(today(), 365), "week", 53),
        (Period.ending(today(), 3 * 365), "month", None),
    ):
        axis = Axis.of(period)
        first, last = period.first, period.last
        size = size or (last.year - first.year) * 12 + last.month - first.month + 1
        assert axis.grain == grain and len(axis.labels) == size
        by_day = await report_of(store, period)
        by_point = await store.read(
            lambda tx, p=period, a=axis: campaign_report(tx, p, {}, None, a.points())
        )
        assert by_point.totals.measures() == by_day.totals.measures()
        assert [(line.name, line.figures.measures()) for line in by_point.campaigns] == [
            (line.name, line.figures.measures()) for line in by_day.campaigns
        ]
        summed: dict[str, Figures] = {}
        for day, figures in by_day.days:
            summed.setdefault(axis.label(day), Figures()).add(figures)
        assert {k: f.measures() for k, f in by_point.days} == {
            k: f.measures() for k, f in summed.items()
        }
        assert len(by_point.days) < len(by_day.days)
        for label in dict(by_point.days):
            assert axis.label(label) == label  # a point's label is its own point's
