"""The Direct Reports client against the emulated Reports service: one test per outcome."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from common import clock
from common.config import DirectSettings
from common.integrations.direct import (
    DirectReports,
    Misconfigured,
    NotReady,
    Report,
    ReportOutcome,
    ReportRequest,
    SplitRange,
    TryLater,
)
from common.model import CostRow
from tests.emulators import direct
from tests.emulators.faults import Faults, start

ZONE = ZoneInfo("Europe/Moscow")
TOKEN = "direct-token"


def days_ago(days: int) -> date:
    return clock.now().astimezone(ZONE).date() - timedelta(days=days)


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


def reports(emulator: direct.Direct, timeout: float = 5, micros: bool = True, **settings):
    """A client of the emulator; its own limiter wide open (the emulator's limits are tested)."""
    settings = {"token": TOKEN, "rate_limit": 1000, **settings}
    config = DirectSettings(base_url=emulator.url, **settings)
    return DirectReports(config, ZONE, timeout=timeout, micros=micros)


async def fetch(client: DirectReports, http, first: date, last: date) -> ReportOutcome:
    return await client.fetch(http, client.request(first, last))


async def test_a_report_is_read_exactly_with_the_documented_request(account, http):
    day = days_ago(3)
    account.set_cost(day, "701", "Весна — поиск", 1200, 34, "1234.56")
    account.set_cost(day, "702", "retargeting", 80, 1, "0.01")
    account.set_cost(days_ago(10), "701", "Весна — поиск", 5, 1, "9.99")  # outside the range
    outcome = await fetch(reports(account), http, days_ago(4), day)
    assert isinstance(outcome, Report)
    assert outcome.rows == (
        CostRow(day, "701", "Весна — поиск", 1200, 34, Decimal("1234.56")),
        CostRow(day, "702", "retargeting", 80, 1, Decimal("0.01")),
    )
    assert outcome.skipped == () and outcome.request_id
    [sent] = account.received
    headers, params = sent["headers"], sent["params"]
    assert headers["processingMode"] == "auto" and headers["Accept-Language"] == "ru"
    assert headers["skipReportHeader"] == "true"
    assert "returnMoneyInMicros" not in headers and "Client-Login" not in headers
    assert params["FieldNames"] == [
        "Date",
        "CampaignId",
        "CampaignName",
        "Impressions",
        "Clicks",
        "Cost",
    ]
    assert params["SelectionCriteria"] == {"DateFrom": str(days_ago(4)), "DateTo": str(day)}
    assert (params["ReportType"], params["DateRangeType"], params["Format"]) == (
        "CAMPAIGN_PERFORMANCE_REPORT",
        "CUSTOM_DATE",
        "TSV",
    )
    assert params["IncludeVAT"] == "YES"


async def test_money_as_amounts_is_read_exactly_too(account, http):
    account.set_cost(days_ago(2), "701", "a", 10, 3, "1000000.07")
    outcome = await fetch(reports(account, micros=False), http, days_ago(2), days_ago(2))
    assert isinstance(outcome, Report)
    assert [row.cost for row in outcome.rows] == [Decimal("1000000.07")]
    assert account.received[0]["headers"]["returnMoneyInMicros"] == "false"


async def test_vat_left_out_as_configured(account, http):
    account.set_cost(days_ago(2), "701", "a", 10, 3, "1200.00")
    outcome = await fetch(reports(account, include_vat=False), http, days_ago(2), days_ago(2))
    assert isinstance(outcome, Report)
    assert account.received[0]["params"]["IncludeVAT"] == "NO"
    assert [row.cost for row in outcome.rows] == [Decimal("1000.00")]


async def test_an_offline_report_is_queued_built_then_returned_to_the_same_request(account, http):
    account.online = False
    account.retry_in = 7
    account.set_cost(days_ago(5), "701", "a", 10, 3, "50.00")
    client = reports(account)
    request = client.request(days_ago(6), days_ago(5))
    assert await client.fetch(http, request) == NotReady(201, 7.0, 1)
    assert await client.fetch(http, request) == NotReady(202, 7.0, 1)
    ready = await client.fetch(http, request)
    assert isinstance(ready, Report) and [r.cost for r in ready.rows] == [Decimal("50.00")]
    # "The same parameters" keep answering the report built then, not today's figures.
    account.set_cost(days_ago(5), "701", "a", 10, 3, "75.00")
    again = await client.fetch(http, request)
    assert isinstance(again, Report) and [r.cost for r in again.rows] == [Decimal("50.00")]
    assert client.request(days_ago(6), days_ago(5)) == request  # an old range: same name


async def test_a_range_with_today_is_named_for_the_hour_so_the_afternoon_gets_fresh_figures(
    account, http, move_clock
):
    account.online = False
    account.building_looks = 0
    account.set_cost(days_ago(0), "701", "a", 10, 3, "10.00")
    client = reports(account)
    first_day, last_day = days_ago(1), days_ago(0)
    morning = client.request(first_day, last_day)
    assert isinstance(await client.fetch(http, morning), NotReady)
    first = await client.fetch(http, morning)
    assert isinstance(first, Report) and [r.cost for r in first.rows] == [Decimal("10.00")]
    account.set_cost(days_ago(0), "701", "a", 30, 9, "40.00")
    move_clock(hours=1)
    afternoon = client.request(first_day, last_day)
    assert afternoon.name != morning.name
    assert isinstance(await client.fetch(http, afternoon), NotReady)
    fresh = await client.fetch(http, afternoon)
    assert isinstance(fresh, Report) and [r.cost for r in fresh.rows] == [Decimal("40.00")]


async def test_an_offline_report_is_kept_five_hours(account, http, move_clock):
    account.online = False
    account.building_looks = 0
    client = reports(account)
    request = client.request(days_ago(9), days_ago(8))
    await client.fetch(http, request)
    assert isinstance(await client.fetch(http, request), Report)
    move_clock(hours=4, minutes=59)
    assert isinstance(await client.fetch(http, request), Report)
    move_clock(minutes=2)  # built more than 5 hours ago: gone, queued anew
    assert await client.fetch(http, request) == NotReady(201, 1.0, 1)


async def test_a_sixth_waiting_offline_report_is_refused_and_waited_for(account, http):
    account.online = False
    client = reports(account)
    for n in range(5):
        first = days_ago(20 + n)
        assert await fetch(client, http, first, first) == NotReady(201, 1.0, n + 1)
    sixth = await fetch(client, http, days_ago(30), days_ago(30))
    assert isinstance(sixth, TryLater)
    assert "HTTP 400 error 9000" in sixth.message and sixth.retry_after == 60.0


async def test_more_than_the_requests_of_ten_seconds_are_refused_and_waited_for(account, http):
    account.requests_per_10s = 3
    client = reports(account)
    for _ in range(3):
        assert isinstance(await fetch(client, http, days_ago(2), days_ago(2)), Report)
    over = await fetch(client, http, days_ago(2), days_ago(2))
    assert isinstance(over, TryLater) and "error 56" in over.message and over.retry_after == 10.0


async def test_a_refused_token_is_a_configuration_problem_a_person_can_read(account, http):
    outcome = await fetch(reports(account, token="revoked"), http, days_ago(2), days_ago(2))
    assert isinstance(outcome, Misconfigured)
    assert (outcome.status, outcome.error_code) == (400, 53)
    assert outcome.request_id and outcome.request_id in outcome.message
    assert "Authorization error: Invalid OAuth token" in outcome.message
    assert "revoked" not in outcome.message  # the token is never repeated


async def test_an_agency_token_needs_the_clients_login():
    emulator = direct.Direct(TOKEN, agency_clients={"client-a"})
    runner, url = await start(direct.create_app(emulator))
    emulator.url = url
    emulator.set_cost(days_ago(2), "701", "a", 10, 3, "10.00")
    try:
        async with aiohttp.ClientSession() as http:
            missing = await fetch(reports(emulator), http, days_ago(2), days_ago(2))
            other = await fetch(
                reports(emulator, client_login="client-b"), http, days_ago(2), days_ago(2)
            )
            served = await fetch(
                reports(emulator, client_login="client-a"), http, days_ago(2), days_ago(2)
            )
    finally:
        await runner.cleanup()
    assert isinstance(missing, Misconfigured) and "Client-Login" in missing.message
    assert isinstance(other, Misconfigured) and other.error_code == 54
    assert "client-b is not a client of the agency" in other.message
    assert isinstance(served, Report) and len(served.rows) == 1
    assert emulator.received[-1]["headers"]["Client-Login"] == "client-a"


async def test_a_server_error_is_temporary(account, http):
    account.answers = [500]
    client = reports(account)
    failed = await fetch(client, http, days_ago(2), days_ago(2))
    assert isinstance(failed, TryLater) and "HTTP 500 error 1000" in failed.message
    assert isinstance(await fetch(client, http, days_ago(2), days_ago(2)), Report)


async def test_a_range_that_times_out_is_split_until_each_part_is_built(account, http):
    for back in range(10):
        account.set_cost(days_ago(back + 1), "701", "a", 10, 1, f"{back + 1}.00")
    account.split_above_days = 3
    client = reports(account)
    pending, rows, splits = [(days_ago(10), days_ago(1))], [], 0
    while pending:
        first, last = pending.pop()
        outcome = await fetch(client, http, first, last)
        if isinstance(outcome, SplitRange):
            splits += 1
            assert outcome.halves[0][0] == first and outcome.halves[1][1] == last
            assert outcome.halves[0][1] + timedelta(days=1) == outcome.halves[1][0]
            pending.extend(outcome.halves)
        else:
            assert isinstance(outcome, Report)
            rows.extend(outcome.rows)
    assert splits == 3  # 10 days -> 5 + 5 -> (3 + 2) + (3 + 2)
    assert sorted(r.cost for r in rows) == [Decimal(n) for n in range(1, 11)]


async def test_a_single_day_that_times_out_is_asked_again_later(account, http):
    account.answers = [502]
    outcome = await fetch(reports(account), http, days_ago(2), days_ago(2))
    assert isinstance(outcome, TryLater) and "HTTP 502" in outcome.message


async def test_a_redirect_is_not_followed(account, http):
    account.faults = Faults(redirect_to="http://127.0.0.1:9/json/v5/reports")
    outcome = await fetch(reports(account), http, days_ago(2), days_ago(2))
    assert isinstance(outcome, TryLater)
    assert "redirecting to http://127.0.0.1:9 (the same path)" in outcome.message
    assert account.calls == 1 and account.received == []


async def test_no_answer_in_time_is_temporary(account, http):
    account.faults = Faults(hang=True)
    outcome = await fetch(reports(account, timeout=0.3), http, days_ago(2), days_ago(2))
    assert outcome == TryLater("Yandex Direct did not answer in time", None)


async def test_an_unreachable_service_is_temporary(http):
    with_socket = direct.Direct(TOKEN)
    runner, url = await start(direct.create_app(with_socket))
    await runner.cleanup()  # nothing listens there any more
    with_socket.url = url
    outcome = await fetch(reports(with_socket), http, days_ago(2), days_ago(2))
    assert isinstance(outcome, TryLater) and "unreachable" in outcome.message


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, Misconfigured),
        (403, Misconfigured),
        (404, Misconfigured),
        (429, TryLater),
        (503, TryLater),
    ],
)
async def test_undocumented_statuses_are_classified(account, http, status, kind):
    account.faults = Faults(status=status)
    outcome = await fetch(reports(account), http, days_ago(2), days_ago(2))
    assert isinstance(outcome, kind) and f"HTTP {status}" in outcome.message


async def test_without_a_token_nothing_is_sent(account, http):
    client = DirectReports(DirectSettings(base_url=account.url), ZONE, timeout=5)
    outcome = await fetch(client, http, days_ago(2), days_ago(2))
    assert isinstance(outcome, Misconfigured) and "direct.token" in outcome.message
    assert account.calls == 0


# The emulator itself refuses what the documentation says the service refuses.

BODY = {
    "SelectionCriteria": {"DateFrom": "2020-01-01", "DateTo": "2020-01-02"},
    "FieldNames": ["Date", "CampaignId", "Cost"],
    "ReportName": "r1",
    "ReportType": "CAMPAIGN_PERFORMANCE_REPORT",
    "DateRangeType": "CUSTOM_DATE",
    "Format": "TSV",
    "IncludeVAT": "YES",
}


async def post(http, emulator, params, **headers) -> tuple[int, dict[str, str], str]:
    headers = {"Authorization": f"Bearer {TOKEN}", **headers}
    async with http.post(
        f"{emulator.url}/json/v5/reports", json={"params": params}, headers=headers
    ) as resp:
        return resp.status, dict(resp.headers), await resp.text()


@pytest.mark.parametrize(
    ("change", "code", "detail"),
    [
        ({"IncludeVAT": None}, 8000, "IncludeVAT is required"),
        ({"FieldNames": ["Date", "Foo"]}, 4000, "FieldNames"),
        ({"Format": "CSV"}, 4000, "Format"),
        ({"SelectionCriteria": {"DateFrom": "2020-01-02", "DateTo": "2020-01-01"}}, 4000, "after"),
        ({"SelectionCriteria": {"DateFrom": "01.01.2020", "DateTo": "2020-01-01"}}, 4000, "YYYY"),
    ],
)
async def test_the_emulator_refuses_a_wrong_definition(account, http, change, code, detail):
    params = {k: v for k, v in {**BODY, **change}.items() if v is not None}
    status, headers, text = await post(http, account, params)
    assert status == 400
    error = json.loads(text)["error"]
    assert error["error_code"] == code and detail in error["error_detail"]
    assert error["request_id"] == headers["RequestId"]


async def test_the_emulator_refuses_a_wrong_token_and_an_impossible_online_report(account, http):
    status, _, text = await post(http, account, BODY, Authorization="Bearer nope")
    assert status == 400 and '"error_code": 53' in text
    account.online = False
    status, _, text = await post(http, account, BODY, processingMode="online")
    assert status == 400 and "cannot be built online" in text


async def test_the_emulator_refuses_another_body_under_a_name_in_use(account, http):
    account.online = False
    assert (await post(http, account, BODY))[0] == 201
    status, _, text = await post(http, account, {**BODY, "IncludeVAT": "NO"})
    assert status == 400 and "other parameters" in text


async def test_the_emulator_writes_the_three_optional_lines_unless_told_not_to(account, http):
    account.set_cost(date(2020, 1, 1), "701", "a", 10, 3, "12.34")
    status, _, full = await post(http, account, BODY)
    assert status == 200
    assert full.splitlines() == [
        '"r1 (2020-01-01 - 2020-01-02)"',
        "Date\tCampaignId\tCost",
        "2020-01-01\t701\t12340000",
        "Total rows: 1",
    ]
    skips = {"skipReportHeader": "true", "skipColumnHeader": "true", "skipReportSummary": "true"}
    status, _, bare = await post(http, account, BODY, returnMoneyInMicros="false", **skips)
    assert bare.splitlines() == ["2020-01-01\t701\t12.34"]


def test_a_request_is_named_for_what_shapes_its_report():
    base = DirectSettings(token=TOKEN)
    client = DirectReports(base, ZONE, timeout=5)
    first = client.request(days_ago(9), days_ago(8))
    assert first.name.startswith(f"leadrelay_{days_ago(9)}_{days_ago(8)}_")
    assert "_at_" not in first.name
    others = [
        DirectReports(DirectSettings(token=TOKEN, include_vat=False), ZONE, timeout=5),
        DirectReports(DirectSettings(token=TOKEN, client_login="x"), ZONE, timeout=5),
        DirectReports(base, ZONE, timeout=5, micros=False),
    ]
    names = {first.name, *(o.request(days_ago(9), days_ago(8)).name for o in others)}
    assert len(names) == 4
    before = clock.now().astimezone(ZONE).strftime("%Y%m%d%H")
    recent = client.request(days_ago(3), days_ago(1)).name
    after = clock.now().astimezone(ZONE).strftime("%Y%m%d%H")
    assert recent.endswith((f"_at_{before}", f"_at_{after}"))
    with pytest.raises(ValueError, match="starts after it ends"):
        client.request(days_ago(1), days_ago(2))
    assert isinstance(first, ReportRequest)
