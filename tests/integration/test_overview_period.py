"""The overview's period picker and filters: every headline number, the previous period, the
source filter, unique vs repeat leads, and a lead at 00:30 Moscow time on that Moscow day."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from uuid6 import uuid7

from common.events import LeadCreated
from common.model import NewLead
from tests.helpers import local, rows, stored
from tests.integration.test_dashboard import card, dash, log_in  # noqa: F401 (a fixture)

MOSCOW = ZoneInfo("Europe/Moscow")


def lead_at(moment, campaign="c", phone=None, email=None, source=None):
    """A lead that came at `moment`, its repeat flag decided as intake decides it."""

    def unit(tx):
        lead = NewLead(campaign_id=campaign, phone=phone, email=email, utm_source=source)
        repeat = tx.leads.recent_with_contact(None, phone, email, "") is not None
        event = tx.events.append(str(uuid7()), 0, LeadCreated(lead, repeat))
        at = stored(moment)
        tx.sql.run("UPDATE events SET created_at = ? WHERE position = ?", (at, event.position))
        tx.project(replace(event, created_at=at))

    return unit


async def test_the_period_and_filters_drive_every_number(dash, store):  # noqa: F811
    days = [
        (local(MOSCOW, 0, 0, 30), "a", "+79160000001", None, "yandex"),
        (local(MOSCOW, 1, 12), "a", "+79160000001", None, "yandex"),  # a repeat, yesterday
        (local(MOSCOW, 5, 12), "b", None, "x@y.ru", "google"),
        (local(MOSCOW, 20, 12), "b", "+79160000002", None, None),
        (local(MOSCOW, 40, 12), "a", None, "z@y.ru", "yandex"),
    ]
    for moment, campaign, phone, email, source in reversed(days):
        await store.write(lead_at(moment, campaign, phone, email, source))
    await log_in(dash)

    async def cards(query):
        html = await (await dash.get(f"/admin?{query}")).text()
        return {key: card(html, key) for key in ("leads", "repeat_leads", "unique_leads")}, html

    expected = {"period=today": 1, "period=yesterday": 1, "period=7": 3, "period=30": 4}
    for query, leads in expected.items():
        assert (await cards(query))[0]["leads"] == str(leads), query
    # The database's own count for 30 days (local days), as a hand computation.
    counted = rows(store.location, "SELECT sum(leads) AS n FROM source_stats")[0]["n"]
    assert int(counted) == 5
    found, html = await cards("period=30")
    # Taken oldest first: today's lead (00:30 Moscow) repeats yesterday's phone.
    assert found == {"leads": "4", "repeat_leads": "1", "unique_leads": "3"}
    previous = re.search(r'data-card="leads">.*?class="previous">(.*?)<', html, re.S)[1]
    assert "1" in previous  # the 30 days before: the lead of 40 days ago
    assert (await cards("period=30&source=yandex"))[0]["leads"] == "2"
    assert (await cards("period=30&source=-"))[0]["leads"] == "1"
    assert (await cards("period=30&campaign=B"))[0]["leads"] == "2"  # without case
    day = days[0][0].date()
    one_day, html = await cards(f"date_from={day}&date_to={day}")
    assert one_day["leads"] == "1"
    chart = re.search(r'data-chart="leads">(.*?)</figure>', html, re.S)[1]
    assert f"<title>{day}: 1</title>" in chart


async def test_the_same_e_mail_is_a_repeat(dash, store):  # noqa: F811
    await store.write(lead_at(local(MOSCOW, 2, 12), email="ivan@x.ru"))
    await store.write(lead_at(local(MOSCOW, 1, 12), email="ivan@x.ru"))
    found = rows(store.location, "SELECT sum(repeat_leads) AS n FROM source_stats")
    assert int(found[0]["n"]) == 1


async def test_an_e_mail_in_another_case_is_a_repeat(dash, store):  # noqa: F811
    await store.write(lead_at(local(MOSCOW, 2, 12), email="Ivan@x.ru"))
    await store.write(lead_at(local(MOSCOW, 1, 12), email="ivan@x.ru"))
    found = rows(store.location, "SELECT sum(repeat_leads) AS n FROM source_stats")
    assert int(found[0]["n"]) == 1


async def test_the_overview_downloads_carry_its_filters(dash, store):  # noqa: F811
    """The campaign report downloads with the overview's campaign and source; the leads
    with its campaign; the page says what each leaves out."""
    for campaign, source in (("a", "yandex"), ("a", "google"), ("b", None)):
        await store.write(lead_at(local(MOSCOW, 1, 12), campaign, source=source))
    await log_in(dash)
    html = await (await dash.get("/admin?period=7&source=yandex")).text()
    assert 'id="exports-unfiltered"' in html
    link = re.search(r'id="campaigns-csv" href="([^"]+)"', html)[1].replace("&amp;", "&")
    text = (await (await dash.get(link)).text()).lstrip("\ufeff")
    lines = csv.DictReader(io.StringIO(text), delimiter=";")
    found = {line["campaign"]: line["leads"] for line in lines}
    assert found == {"a": "1"}  # campaign b's lead and a's google one are not yandex's
    html = await (await dash.get("/admin?period=7&campaign=b")).text()
    link = re.search(r'id="leads-csv" href="([^"]+)"', html)[1].replace("&amp;", "&")
    assert "campaign=b" in link
    text = (await (await dash.get(link)).text()).lstrip("\ufeff")
    assert [line["Кампания"] for line in csv.DictReader(io.StringIO(text), delimiter=";")] == ["b"]
    assert 'id="exports-unfiltered"' not in await (await dash.get("/admin?period=7")).text()


async def test_a_year_is_charted_by_week_and_ten_years_by_day_in_the_table(dash, store):  # noqa: F811
    """The overview of a year draws a point a week, each the SQL count of its seven days;
    ten years is the longest period, and its per-day table has a line a day."""
    for days_ago in (3, 4, 100, 300):
        await store.write(lead_at(local(MOSCOW, days_ago, 12)))
    await log_in(dash)
    last = local(MOSCOW, 0, 12).date()
    first = last - timedelta(days=364)
    html = await (await dash.get(f"/admin?date_from={first}&date_to={last}")).text()
    chart = re.search(r'data-chart="leads">(.*?)</figure>', html, re.S)[1]
    caption = re.search(r"<figcaption>(.*?)</figcaption>", chart)[1]
    assert "по неделям" in caption or "by week" in caption
    assert chart.count("<circle") == 53
    counted = rows(store.location, "SELECT day, sum(leads) AS n FROM source_stats GROUP BY day")
    weeks: Counter[date] = Counter()
    for row in counted:
        day = date.fromisoformat(row["day"])
        weeks[first + timedelta(days=(day - first).days // 7 * 7)] += int(row["n"])
    for start, leads in weeks.items():
        assert f"<title>{start} – {start + timedelta(days=6)}: {leads}</title>" in chart
    ten_years = last - timedelta(days=3652)
    table = await dash.get(f"/admin/reports/days.csv?date_from={ten_years}&date_to={last}")
    assert table.status == 200
    lines = list(csv.reader(io.StringIO((await table.read()).decode("utf-8-sig"))))
    assert len(lines) == 1 + 3653 + 1  # the header, a line a day, the total
    refused = await dash.get(f"/admin/reports/days?date_from={ten_years - timedelta(days=1)}")
    assert refused.status == 422
