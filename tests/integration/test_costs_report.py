"""Cost, CPL, cost per sale and ROMI per campaign and per day: the JSON API, the CSV export and
the overview, checked against a computation by hand from the database's own rows."""

import csv
import io
import json
import re
from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from common.config import Settings
from services.dashboard.app import create_app
from services.dashboard.i18n import translator
from tests.helpers import rows
from tests.reporting import ZONE, Leads, bounds, cost, local, record, today

TOKEN = "api-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Direct campaign -> ours, as the report must attach them: 1001 by the override, 2002 by its
# name, 3003 to none of ours (a row of its own).
ATTACHED = {"1001": "alpha", "2002": "beta", "3003": None}


@pytest.fixture
async def dash(aiohttp_client, db_path):
    settings = Settings(
        database=db_path,
        dashboard={"password": "pw", "api_token": TOKEN, "secret_key": "k" * 40},
        direct={"campaigns": {"1001": "alpha"}},
    )
    return await aiohttp_client(create_app(settings))


async def log_in(dash) -> None:
    html = await (await dash.get("/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)[1]
    form = {"username": "admin", "password": "pw", "csrf_token": token, "next": "/admin"}
    assert (await dash.post("/login", data=form, allow_redirects=False)).status == 302


def ago(days: int):
    return today() - timedelta(days=days)


async def history(store) -> None:
    """Three campaigns of ours and three Direct campaigns over the last 30 days, and some of
    each outside them."""
    leads = Leads(store)
    for days in (3, 3, 5, 10):
        await leads.add("alpha", local(ago(days)))
    await leads.add("alpha", local(ago(6)), pay="1500.50", paid=local(ago(2)))
    await leads.add("alpha", local(ago(8)), pay="999.99", paid=local(ago(1), 9))
    await leads.add("alpha", local(ago(4)), lost=True)
    await leads.add("alpha", local(ago(45)), pay="7000", paid=local(ago(44)))  # before
    await leads.add("beta", local(ago(2)), pay="500", currency="USD")
    await leads.add("beta", local(ago(7)))
    for days in (1, 2, 3):
        await leads.add("gamma", local(ago(days)))
    await leads.settle()
    await record(store, *(cost(ago(d), "1001", f"{d}10.37", clicks=d) for d in range(1, 11)))
    await record(store, cost(ago(3), "1001", "1999.99", clicks=80))  # the day, re-imported
    await record(store, cost(ago(40), "1001", "5000"))  # before the period
    await record(store, cost(ago(2), "2002", "333.33", name="BETA"))
    await record(store, cost(ago(1), "3003", "250", name="Orphan"))
    await record(store, cost(ago(1), "4004", "0", name="gamma"))  # shown, costing nothing


# Yesterday: 999.99 paid, 110.37 + 250 + 0 spent.
ROMI_OF_YESTERDAY = str(
    (100 * (Decimal("999.99") - Decimal("360.37")) / Decimal("360.37")).quantize(
        Decimal("0.1"), ROUND_HALF_UP
    )
)


def by_hand(database: str, first, last) -> dict[str, dict[str, object]]:
    """The report's measures per campaign, from the leads and the events alone."""
    since, until = bounds(first, last)
    found: dict[str, dict] = defaultdict(
        lambda: (
            {"leads": 0, "sales": 0, "revenue": Decimal(0), "lost": 0, "cost": Decimal(0)}
            | {"clicks": 0, "currencies": set()}
        )
    )
    for lead in rows(
        database,
        "SELECT campaign_id, status, created_at, paid_at, payment_amount, payment_currency"
        " FROM leads",
    ):
        mine = found[lead["campaign_id"]]
        if since <= lead["created_at"] < until:
            mine["leads"] += 1
            mine["lost"] += lead["status"] == "lost"
        if lead["paid_at"] and since <= lead["paid_at"] < until:
            mine["sales"] += 1
            mine["revenue"] += Decimal(lead["payment_amount"])
            mine["currencies"].add(lead["payment_currency"])
    latest = {}  # the last report of each (day, Direct campaign) replaces the ones before
    for event in rows(
        database, "SELECT data FROM events WHERE type = 'DIRECT_COST_REPORTED' ORDER BY position"
    ):
        data = json.loads(event["data"])
        latest[data["day"], data["direct_campaign_id"]] = data
    for (day, direct_id), data in latest.items():
        if first.isoformat() <= day <= last.isoformat():
            name = (
                ATTACHED.get(direct_id, data["campaign_name"]) or f"Direct: {data['campaign_name']}"
            )
            found[name]["cost"] += Decimal(data["cost"])
            found[name]["clicks"] += data["clicks"]
    return {name: measures(mine) for name, mine in found.items() if mine["leads"] or mine["cost"]}


def measures(mine: dict) -> dict[str, object]:
    cent, tenth = Decimal("0.01"), Decimal("0.1")
    cost, revenue, leads, sales = mine["cost"], mine["revenue"], mine["leads"], mine["sales"]
    one_currency = mine["currencies"] <= {"RUB"}  # Direct's costs are in RUB here
    return {
        "leads": leads,
        "sales": sales,
        "lost": mine["lost"],
        "clicks": mine["clicks"],
        "revenue": str(revenue.quantize(cent, ROUND_HALF_UP)),
        "cost": str(cost.quantize(cent, ROUND_HALF_UP)),
        "cpl": str((cost / leads).quantize(cent, ROUND_HALF_UP)) if cost and leads else None,
        "cost_per_sale": str((cost / sales).quantize(cent, ROUND_HALF_UP))
        if cost and sales
        else None,
        "romi": str((100 * (revenue - cost) / cost).quantize(tenth, ROUND_HALF_UP))
        if cost and one_currency
        else None,
        "lead_to_sale": str((Decimal(100 * sales) / leads).quantize(tenth, ROUND_HALF_UP))
        if leads
        else None,
    }


async def test_the_api_s_measures_equal_a_computation_by_hand(dash, store, database):
    await history(store)
    stats = await (await dash.get("/api/v1/stats", headers=AUTH)).json()
    first, last = ago(29), today()
    assert stats["period"] == {
        "date_from": first.isoformat(),
        "date_to": last.isoformat(),
        "timezone": "Europe/Moscow",
    }
    assert {"totals", "campaigns", "tasks"} <= set(stats)  # the all-time fields stay
    expected = by_hand(database, first, last)
    shown = {line["campaign"]: line for line in stats["report"]["campaigns"]}
    assert set(shown) == set(expected) == {"alpha", "beta", "gamma", "Direct: Orphan"}
    for name, figures in expected.items():
        assert {key: shown[name][key] for key in figures} == figures, name
    assert shown["alpha"]["direct_campaign_ids"] == ["1001"]
    assert shown["gamma"]["direct_campaign_ids"] == ["4004"]
    assert shown["Direct: Orphan"]["campaign_id"] is None
    assert shown["alpha"]["romi"] is not None and shown["alpha"]["unpaid_cost"] is False
    assert shown["Direct: Orphan"]["romi"] == "-100.0" and shown["Direct: Orphan"]["unpaid_cost"]
    totals = stats["report"]["totals"]
    assert totals["leads"] == sum(f["leads"] for f in expected.values()) == 12
    assert Decimal(totals["cost"]) == sum(Decimal(f["cost"]) for f in expected.values())
    assert totals["romi"] is None  # dollars and roubles: no one ROMI


async def test_the_per_day_rows_add_up_and_hold_each_day_s_cost(dash, store, database):
    await history(store)
    stats = await (await dash.get("/api/v1/stats", headers=AUTH)).json()
    days = {row["day"]: row for row in stats["report"]["days"]}
    assert days[ago(3).isoformat()]["cost"] == "1999.99"  # re-imported: 310.37 replaced
    assert days[ago(3).isoformat()]["leads"] == 3  # two of alpha, one of gamma
    assert days[ago(3).isoformat()]["cpl"] == "666.66"
    assert days[ago(1).isoformat()]["sales"] == 1 and days[ago(1).isoformat()]["cost"] == "360.37"
    # Dollars and roubles in the period: each day's own currencies decide its ROMI.
    assert days[ago(2).isoformat()]["revenue_currencies"] == ["RUB", "USD"]
    assert days[ago(2).isoformat()]["romi"] is None
    assert days[ago(1).isoformat()]["revenue_currencies"] == ["RUB"]
    assert days[ago(1).isoformat()]["romi"] == ROMI_OF_YESTERDAY
    for measure in ("leads", "sales", "lost", "clicks"):
        assert sum(row[measure] for row in days.values()) == stats["report"]["totals"][measure]
    assert sorted(days) == list(days)
    assert ago(40).isoformat() not in days and min(days) >= ago(29).isoformat()


async def test_a_period_asked_for_is_the_one_reported(dash, store):
    await history(store)
    query = f"date_from={ago(3)}&date_to={ago(2)}"
    stats = await (await dash.get(f"/api/v1/stats?{query}", headers=AUTH)).json()
    assert stats["period"]["date_from"] == ago(3).isoformat()
    shown = {line["campaign"]: line for line in stats["report"]["campaigns"]}
    assert shown["alpha"]["cost"] == "2210.36"  # days 3 and 2 alone
    assert shown["alpha"]["leads"] == 2 and shown["alpha"]["sales"] == 1
    assert "Direct: Orphan" not in shown
    only_from = await (await dash.get(f"/api/v1/stats?date_from={ago(2)}", headers=AUTH)).json()
    assert only_from["period"]["date_to"] == today().isoformat()
    query = f"date_from={ago(1)}&date_to={ago(1)}"  # roubles alone
    one_day = await (await dash.get(f"/api/v1/stats?{query}", headers=AUTH)).json()
    [day] = one_day["report"]["days"]
    assert (day["revenue_currencies"], day["romi"]) == (["RUB"], ROMI_OF_YESTERDAY)
    assert one_day["report"]["totals"]["romi"] == ROMI_OF_YESTERDAY


async def named_fields(resp) -> list[str]:
    """The fields a 422 names: the JSON API's detail, or, for a person's browser (the CSV
    link), the HTML error page's text."""
    if resp.content_type == "application/json":
        body = await resp.json()
        assert body["error"] == "invalid_field"
        return [problem["field"] for problem in body["detail"]]
    listed = re.search(r'<ul id="error-fields">(.*?)</ul>', await resp.text(), re.S)[1]
    labels = {translator("ru")(f"field_{name}"): name for name in ("date_from", "date_to")}
    return [labels[label] for label in re.findall(r"<li><b>([^<]*)</b>", listed)]


@pytest.mark.parametrize(
    "query, field",
    [
        ("date_from=yesterday", "date_from"),
        ("date_to=2024-02-30", "date_to"),
        ("date_from=0001-01-01", "date_from"),
        ("date_to=99999-01-01", "date_to"),
        ("date_from={tomorrow}&date_to={today}", "date_from"),
        ("date_from={eleven_years}&date_to={today}", "date_from"),  # over ten years
        ("date_from=1970-01-01", "date_from"),
    ],
)
async def test_bad_dates_are_a_422_naming_the_field(dash, store, query, field):
    eleven_years = today() - timedelta(days=11 * 365)
    query = query.format(
        today=today(), tomorrow=today() + timedelta(days=1), eleven_years=eleven_years
    )
    resp = await dash.get(f"/api/v1/stats?{query}", headers=AUTH)
    assert resp.status == 422
    body = await resp.json()
    assert body["error"] == "invalid_field" and body["detail"][0]["field"] == field
    # A person's pages say it in words: the CSV's error page, and the overview above its
    # table (shown for the default period).
    await log_in(dash)
    for path in ("/api/v1/stats", "/admin/campaigns.csv", "/admin/reports/days.csv"):
        resp = await dash.get(f"{path}?{query}")
        assert resp.status == 422, path
        assert await named_fields(resp) == [field], path
    page = await dash.get(f"/admin?{query}")
    assert page.status == 422
    assert (
        f"{translator('ru')(f'field_{field}')}: "
        in re.search(r'id="period-error">([^<]*)<', await page.text())[1]
    )


async def test_romi_is_a_dash_without_cost_or_in_another_currency(dash, store):
    await history(store)
    stats = await (await dash.get("/api/v1/stats", headers=AUTH)).json()
    shown = {line["campaign"]: line for line in stats["report"]["campaigns"]}
    beta = shown["beta"]  # paid in dollars, cost in roubles
    assert (beta["revenue_currencies"], beta["cost_currencies"]) == (["USD"], ["RUB"])
    assert beta["romi"] is None and beta["cpl"] == "166.67" and beta["cost_per_sale"] == "333.33"
    gamma = shown["gamma"]  # Direct reported it, at no cost
    assert (gamma["cost"], gamma["romi"], gamma["cpl"], gamma["cost_per_sale"]) == (
        "0.00",
        None,
        None,
        None,
    )
    assert gamma["impressions"] == 100 and gamma["unpaid_cost"] is False
    await log_in(dash)
    html = await (await dash.get("/admin")).text()
    assert '"num romi">—<' in row_of(html, "beta") and '"num cpl">—<' in row_of(html, "gamma")


def row_of(html: str, campaign: str) -> str:
    return re.search(rf'data-campaign="{re.escape(campaign)}">(.*?)</tr>', html, re.S)[1]


async def test_the_export_holds_the_report_s_rows(dash, store):
    await history(store)
    stats = await (await dash.get("/api/v1/stats", headers=AUTH)).json()
    await log_in(dash)  # a page's download, as the leads' CSV: the session, not the API token
    resp = await dash.get(f"/admin/campaigns.csv?date_from={ago(29)}")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    assert f"campaigns-{ago(29)}-{today()}.csv" in resp.headers["Content-Disposition"]
    raw = await resp.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    api = stats["report"]["campaigns"]
    assert [row["campaign"] for row in table] == [line["campaign"] for line in api]
    for row, line in zip(table, api, strict=True):
        for column in ("leads", "sales", "revenue", "cost", "cpl", "cost_per_sale", "romi"):
            assert row[column] == ("" if line[column] is None else str(line[column])), column
    orphan = next(row for row in table if row["campaign"] == "Direct: Orphan")
    assert (orphan["romi"], orphan["campaign_id"], orphan["direct_campaign_ids"]) == (
        "-100.0",  # a number, not text behind an apostrophe
        "",
        "3003",
    )


async def test_the_overview_shows_cost_and_singles_out_cost_without_revenue(dash, store):
    await history(store)
    await log_in(dash)
    html = await (await dash.get("/admin")).text()
    assert f"Кампании с {ago(29)} по {today()}" in html
    for heading in ("Расход", "Клики", "Цена заявки", "Цена продажи", "ROMI"):
        assert f"<th>{heading}</th>" in html
    alpha = row_of(html, "alpha")
    assert '"num cost">' in alpha and '"num clicks">' in alpha and "расход без выручки" not in alpha
    orphan = re.search(r'<tr class="([^"]*)" data-campaign="Direct: Orphan">(.*?)</tr>', html, re.S)
    assert orphan[1] == "no-revenue"  # a class, and a word: not colour alone
    assert "Директ: Orphan" in orphan[2] and "расход без выручки" in orphan[2]
    assert '"num cost">250\xa0₽<' in orphan[2] and '"num romi">-100\xa0%<' in orphan[2]
    assert 'id="campaign-totals"' in html
    assert f'href="/admin/campaigns.csv?date_from={ago(29)}&amp;date_to={today()}"' in html
    narrow = await (await dash.get(f"/admin?date_from={ago(2)}&date_to={ago(2)}")).text()
    assert f"Кампании с {ago(2)} по {ago(2)}" in narrow and "Orphan" not in row_of(narrow, "alpha")
    assert 'data-campaign="Direct: Orphan"' not in narrow


async def test_a_cost_stream_is_no_lead(dash, store, database):
    """The latest events list a cost event without a link to a lead page, and a lead page or
    the lead events API asked for a cost stream answer 404."""
    await record(store, cost(ago(1), "1001", "10"))
    await log_in(dash)
    html = await (await dash.get("/admin")).text()
    latest = re.search(r'id="latest-events">(.*?)</table>', html, re.S)[1]
    assert "Расходы Директа за день" in latest and "direct:1001" in latest
    assert 'href="/admin/leads/direct:1001"' not in latest
    assert (await dash.get("/admin/leads/direct:1001")).status == 404
    assert (await dash.get("/api/v1/leads/direct:1001/events", headers=AUTH)).status == 404
    assert rows(database, "SELECT count(*) AS n FROM leads")[0]["n"] == 0


async def test_a_lead_at_half_past_midnight_in_moscow_meets_that_day_s_cost(dash, store):
    day = ago(5)
    leads = Leads(store)
    await leads.add("alpha", local(day, 0, 30))  # 21:30 UTC the day before
    await leads.settle()
    await record(store, cost(day, "1001", "800"))
    stats = await (await dash.get("/api/v1/stats", headers=AUTH)).json()
    [row] = [row for row in stats["report"]["days"] if row["day"] == day.isoformat()]
    assert (row["leads"], row["cost"], row["cpl"]) == (1, "800.00", "800.00")
    assert str(ZONE) == "Europe/Moscow"


HOSTILE = ["", "0", "1970-01-01", "2999-12-31", "3000-01-01", "9999-12-31", "20240101"]
HOSTILE += ["2024-W01-1", "\u0000", "٢٠٢٤-٠١-٠١", "2024-02-29", "x" * 3000, "-1", "1e999"]


async def test_no_pair_of_dates_gets_a_500(dash, store):
    """Every pair of odd dates is an answer for a period or a 422 naming one of the two (a
    NUL character in the address: a 400 naming it, before any date is read)."""
    await record(store, cost(today(), "1001", "1"))
    await log_in(dash)
    for date_from in HOSTILE:
        for date_to in HOSTILE[::3]:
            query = {"date_from": date_from, "date_to": date_to}
            for path in ("/api/v1/stats", "/admin/campaigns.csv", "/admin"):
                resp = await dash.get(path, params=query)
                expected = (400,) if "\u0000" in date_from + date_to else (200, 422)
                assert resp.status in expected, (path, query, resp.status)
                if resp.status == 422 and path != "/admin":
                    [named] = await named_fields(resp)
                    assert named in query
