"""The dashboard's days are the business's: the leads list, its API and the CSV export filter
on days in dashboard.timezone, and the chart's last day is that zone's today."""

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

from common import clock
from common.config import Settings
from common.leads import LeadService
from common.model import NewLead
from common.store import open_store
from services.dashboard.queries import DashboardQueries
from tests.contract.kit import lead_at
from tests.helpers import local
from tests.integration.test_dashboard import API_TOKEN, dash, log_in  # noqa: F401 (a fixture)

MOSCOW = ZoneInfo("Europe/Moscow")


async def test_date_filters_mean_moscow_days(dash, store):  # noqa: F811
    """00:30 and 23:30 Moscow time are on that Moscow day; 23:30 the day before and 00:30
    the day after are not (in UTC the first two are on different days)."""
    early = local(MOSCOW, 2, 0, 30)
    day = early.date()
    ids = [
        await store.write(lead_at(moment))
        for moment in (
            early,
            local(MOSCOW, 2, 23, 30),
            local(MOSCOW, 3, 23, 30),
            local(MOSCOW, 1, 0, 30),
        )
    ]
    query = f"date_from={day}&date_to={day}"
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    listed = await (await dash.get(f"/api/v1/leads?{query}", headers=auth)).json()
    assert sorted(lead["id"] for lead in listed["leads"]) == sorted(ids[:2])
    await log_in(dash)
    raw = await (await dash.get(f"/admin/leads.csv?{query}")).read()
    table = csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";")
    assert sorted(row["Номер заявки"] for row in table) == sorted(ids[:2])
    html = await (
        await dash.get(f"/admin/leads?date_from={day - timedelta(days=1)}&date_to={day}")
    ).text()
    assert all(lead_id in html for lead_id in ids[:3]) and ids[3] not in html


async def test_the_chart_ends_on_the_zone_s_today(database):
    """In a zone whose date is not UTC's now (one of UTC+14 and UTC-11 always is), a lead
    taken now is on the chart's last day, that zone's today."""
    now = clock.now()
    name = next(
        zone
        for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago")
        if now.astimezone(ZoneInfo(zone)).date() != now.date()
    )
    settings = Settings(database=database, dashboard={"timezone": name})
    store = await open_store(database, 1.0, zone=settings.dashboard.zone)
    try:
        await store.write(lambda tx: LeadService.create_lead(tx, NewLead(campaign_id="c")))
        shown = await DashboardQueries(store, settings).daily()
    finally:
        await store.close()
    local_today = clock.now().astimezone(ZoneInfo(name)).date()
    assert shown["days"][-1] == str(local_today) != str(clock.now().date())
    assert shown["series"]["leads"]["c"][-1] == 1
