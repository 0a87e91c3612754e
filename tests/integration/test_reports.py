"""The UTM report, the per-day table and the reports' CSV and XLSX: every number checked against
a computation by hand from the database's own rows (raw SQL over leads), on both backends."""

# ruff: noqa: F811  (`dash`, the cost report's fixture, is a parameter of each test)

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

import openpyxl
import pytest

from services.dashboard.i18n import translator
from tests.helpers import rows
from tests.integration.test_costs_report import dash, log_in  # noqa: F401  (the fixture)
from tests.reporting import Leads, bounds, cost, local, record, today

YANDEX = {"utm_source": "yandex", "utm_medium": "cpc"}
UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


def ago(days: int) -> date:
    return today() - timedelta(days=days)


async def history(store) -> None:
    """alpha's leads all from yandex/cpc/alpha (so its Direct cost attaches at utm_campaign);
    beta's from two sources (so its cost cannot); gamma's without UTM or from vk, one at
    00:30 Moscow time; one lead before the period, one paid in it but created before."""
    leads = Leads(store)
    for days in (3, 10):
        await leads.add("alpha", local(ago(days)), utm="alpha", tags=YANDEX)
    await leads.add(
        "alpha", local(ago(5)), utm="alpha", tags=YANDEX, pay="1500.50", paid=local(ago(2))
    )
    await leads.add("alpha", local(ago(4)), utm="alpha", tags=YANDEX, lost=True)
    await leads.add(
        "alpha", local(ago(45)), utm="alpha", tags=YANDEX, pay="7000", paid=local(ago(44))
    )
    await leads.add(
        "alpha", local(ago(40)), utm="alpha", tags=YANDEX, pay="300", paid=local(ago(1))
    )
    await leads.add("beta", local(ago(2)), utm="beta", tags=YANDEX, pay="500")
    await leads.add("beta", local(ago(7)), utm="beta", tags={"utm_source": "google"})
    await leads.add("gamma", local(ago(1)))
    await leads.add("gamma", local(ago(3), 0, 30), tags={"utm_source": "vk", "utm_content": "x"})
    await leads.add(
        "gamma", local(ago(2)), tags={"utm_source": "vk", "utm_term": "shoes"}, pay="99.99"
    )
    await leads.settle()
    await record(store, *(cost(ago(d), "1001", f"{d}00.10", clicks=d) for d in range(1, 6)))
    await record(store, cost(ago(2), "2002", "333.33", name="BETA"))


def by_hand(database: str, first: date, last: date, chosen: dict, level: str) -> dict:
    """Leads, sales, revenue and lost per value of `level` (None for none), of the leads that
    came in the period with the chosen values above."""
    since, until = bounds(first, last)
    found: dict = defaultdict(lambda: {"leads": 0, "sales": 0, "revenue": Decimal(0), "lost": 0})
    for lead in rows(
        database, f"SELECT {', '.join(UTM)}, status, created_at, paid_at, payment_amount FROM leads"
    ):
        if not since <= lead["created_at"] < until:
            continue
        if any((lead[name] or None) != value for name, value in chosen.items()):
            continue
        mine = found[lead[level] or None]
        mine["leads"] += 1
        mine["lost"] += lead["status"] == "lost"
        if lead["paid_at"]:
            mine["sales"] += 1
            mine["revenue"] += Decimal(lead["payment_amount"])
    return dict(found)


async def table(dash, path: str, query: dict, lang: str = "en") -> list[list[str]]:
    dash.session.cookie_jar.update_cookies({"lang": lang})
    resp = await dash.get(f"{path}?{urlencode(query)}")
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig")), delimiter=";"))


def period() -> dict[str, str]:
    return {"date_from": ago(29).isoformat(), "date_to": today().isoformat()}


def none(t_lang: str = "en") -> str:
    return translator(t_lang)("utm_none")


@pytest.mark.parametrize(
    "chosen",
    [
        {},
        {"utm_source": "yandex"},
        {"utm_source": "yandex", "utm_medium": "cpc"},
        {"utm_source": None},
        {"utm_source": "vk", "utm_medium": None, "utm_campaign": None},
    ],
)
async def test_each_level_is_the_leads_counted_by_hand(dash, store, db_path, chosen):
    await history(store)
    await log_in(dash)
    level = next(name for name in UTM if name not in chosen)
    query = period() | {name: value or "" for name, value in chosen.items()}
    got = await table(dash, "/admin/reports/utm.csv", query)
    header, lines, total = got[0], got[1:-1], got[-1]
    assert header[:6] == [
        translator("en")(f"field_{level}"),
        "Leads",
        "Payments",
        "Revenue, RUB",
        "Lead → payment, %",
        "Lost",
    ]
    expected = by_hand(db_path, ago(29), today(), chosen, level)
    assert expected, "the history has leads at this level"
    shown = {(line[0] if line[0] != none() else None): line for line in lines}
    assert set(shown) == set(expected)
    for value, mine in expected.items():
        line = shown[value]
        assert [int(line[1]), int(line[2]), Decimal(line[3] or 0), int(line[5])] == [
            mine["leads"],
            mine["sales"],
            mine["revenue"],
            mine["lost"],
        ], value
        share = Decimal(100 * mine["sales"]) / mine["leads"]
        assert Decimal(line[4]) == share.quantize(Decimal("0.1")), value
    assert int(total[1]) == sum(m["leads"] for m in expected.values())
    assert [int(line[1]) for line in lines] == sorted(
        (int(line[1]) for line in lines), reverse=True
    )


async def test_the_page_drills_down_and_names_leads_without_a_value(dash, store):
    await history(store)
    await log_in(dash)
    html = await (await dash.get(f"/admin/reports/utm?{urlencode(period())}")).text()
    assert "Все заявки" in html and 'data-value=""' in html  # "(нет)": the leads without a source
    assert "(нет)" in html
    link = re.search(r'data-value="yandex">\s*<th scope="row"><a href="([^"]+)"', html)[1]
    assert "utm_source=yandex" in link
    deeper = await (await dash.get(link.replace("&amp;", "&"))).text()
    assert translator("ru")("field_utm_medium") in deeper and 'data-value="cpc"' in deeper
    assert "Источник (utm_source): yandex" in deeper  # the way back, as a crumb
    # The overview's campaign table leads to the UTM report of that campaign.
    overview = await (await dash.get("/admin")).text()
    assert re.search(r'href="/admin/reports/utm\?campaign=alpha&amp;date_from=', overview)
    only = await table(dash, "/admin/reports/utm.csv", period() | {"campaign": "alpha"})
    assert [line[0] for line in only[1:-1]] == ["yandex"] and only[1][1] == "4"


async def test_a_cost_attaches_only_where_the_line_is_one_of_our_campaigns(dash, store, db_path):
    await history(store)
    await log_in(dash)
    got = await table(dash, "/admin/reports/utm.csv", period() | YANDEX)
    header, lines = got[0], {line[0]: line for line in got[1:-1]}
    spent = sum(Decimal(f"{d}00.10") for d in range(1, 6))
    cost_at = header.index("Cost, RUB")
    alpha = lines["alpha"]  # every alpha lead of the period is here: its cost is exact
    assert Decimal(alpha[cost_at]) == spent and alpha[cost_at + 1] == str(sum(range(1, 6)))
    assert Decimal(alpha[cost_at + 2]) == (spent / 4).quantize(
        Decimal("0.01"), ROUND_HALF_UP
    )  # CPL: 4 leads
    assert lines["beta"][cost_at] == ""  # one of beta's two leads came from google
    assert got[-1][cost_at] == ""  # a total of UTM lines has no cost of its own
    top = await table(dash, "/admin/reports/utm.csv", period())  # no cost above utm_campaign
    assert all(line[cost_at] == "" for line in top[1:])
    html = await (await dash.get(f"/admin/reports/utm?{urlencode(period() | YANDEX)}")).text()
    assert "—" in html and "utm-cost-note" in html


async def test_the_day_table_has_every_day_and_the_lead_of_00_30_on_its_moscow_day(
    dash, store, db_path
):
    await history(store)
    await log_in(dash)
    got = await table(dash, "/admin/reports/days.csv", period())
    lines = got[1:-1]
    assert [line[0] for line in lines] == [
        (ago(29) + timedelta(days=n)).isoformat() for n in range(30)
    ]
    by_day = {line[0]: line for line in lines}
    since, until = bounds(ago(3), ago(3))
    came = rows(
        db_path,
        "SELECT count(*) AS n FROM leads WHERE created_at >= ? AND created_at < ?",
        (since, until),
    )[0]["n"]
    assert came == 2 and by_day[ago(3).isoformat()][1] == "2"  # alpha at noon, gamma at 00:30
    assert by_day[ago(4).isoformat()][1] == "1"  # not the day before in UTC
    # Sales on the payment's day: the lead of 40 days ago paid yesterday counts yesterday.
    assert by_day[ago(1).isoformat()][2] == "1" and Decimal(
        by_day[ago(1).isoformat()][3]
    ) == Decimal("300")
    assert int(got[-1][1]) == sum(int(line[1]) for line in lines) == 9
    html = await (await dash.get(f"/admin/reports/days?{urlencode(period())}")).text()
    assert html.count("<tr>") >= 30 and "Европа" not in html and "Europe/Moscow" in html


@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize("path", ["/admin/reports/days", "/admin/reports/utm", "/admin/campaigns"])
async def test_the_xlsx_is_typed_in_the_reader_s_language(dash, store, lang, path):
    await history(store)
    await log_in(dash)
    dash.session.cookie_jar.update_cookies({"lang": lang})
    resp = await dash.get(f"{path}.xlsx?{urlencode(period())}")
    assert resp.status == 200
    assert resp.headers["Content-Type"].endswith("spreadsheetml.sheet")
    assert f"-{ago(29)}-{today()}.xlsx" in resp.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(await resp.read())).active
    t = translator(lang)
    header = [c.value for c in sheet[1]]
    assert header[1:4] == [t("leads"), t("payments"), f"{t('revenue')}, RUB"]
    body = list(sheet.iter_rows(min_row=2))
    assert body[-1][0].value == t("total") and body[-1][1].value == sum(
        r[1].value for r in body[:-1]
    )
    assert all(isinstance(r[1].value, int) for r in body)
    paid = next(r for r in body if r[3].value)
    symbol = "₽" if lang == "ru" else "RUB"
    assert isinstance(paid[3].value, float) and symbol in paid[3].number_format
    assert paid[4].number_format == "0.0%" and paid[4].value > 0  # a fraction: 1.5 is 150 %
    if path.endswith("days"):
        assert isinstance(body[0][0].value, datetime) and body[0][0].value.date() == ago(29)
        assert body[0][0].number_format == ("dd.mm.yyyy" if lang == "ru" else "yyyy-mm-dd")


async def test_the_csv_speaks_russian_numbers_and_dates(dash, store):
    await history(store)
    await log_in(dash)
    got = await table(dash, "/admin/reports/days.csv", period(), lang="ru")
    assert got[0][:4] == ["День", "Заявки", "Оплаты", "Выручка, RUB"]
    assert got[1][0] == ago(29).strftime("%d.%m.%Y")
    paid = next(line for line in got[1:-1] if line[3] not in ("", "0,00"))
    assert "," in paid[3] and not paid[3].startswith("'")
    assert got[-1][0] == "Итого"


@pytest.mark.parametrize(
    "query, field",
    [
        ("date_from=yesterday", "date_from"),
        ("date_to=2024-13-01", "date_to"),
        ("date_from={late}&date_to={early}", "date_from"),
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/admin/reports/utm",
        "/admin/reports/days",
        "/admin/reports/utm.xlsx",
        "/admin/reports/days.csv",
        "/admin/campaigns.xlsx",
    ],
)
async def test_bad_dates_are_a_422_page_naming_the_field(dash, store, query, field, path):
    await log_in(dash)
    query = query.format(late=today(), early=ago(3))
    resp = await dash.get(f"{path}?{query}", headers={"Accept": "text/html"})
    assert resp.status == 422 and resp.content_type == "text/html"
    assert translator("ru")(f"field_{field}") in await resp.text()
