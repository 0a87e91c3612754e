"""How the Direct Reports client reads a TSV report and the headers of a waiting one."""

from datetime import date
from decimal import Decimal

import pytest

from common.integrations.base import Reply
from common.integrations.direct import (
    Report,
    ReportRequest,
    TryLater,
    halves,
    money,
    parse_report,
    refusal,
    retry_in,
)
from common.model import CostRow

# Fixed dates are fine here: nothing below asks the clock.
REQUEST = ReportRequest(date(2024, 3, 1), date(2024, 3, 2), "leadrelay_2024-03-01_2024-03-02_x")
COLUMNS = "Date\tCampaignId\tCampaignName\tImpressions\tClicks\tCost"
ROWS = ["2024-03-01\t701\tВесна\t100\t7\t1234560000", "2024-03-02\t702\tbrand\t5\t0\t0"]
EXPECTED = (
    CostRow(date(2024, 3, 1), "701", "Весна", 100, 7, Decimal("1234.56")),
    CostRow(date(2024, 3, 2), "702", "brand", 5, 0, Decimal("0")),
)


@pytest.mark.parametrize(
    "lines",
    [
        [COLUMNS, *ROWS, "Total rows: 2"],  # as asked: no title line
        [f'"{REQUEST.name} (2024-03-01 - 2024-03-02)"', COLUMNS, *ROWS, "Total rows: 2"],
        ROWS,  # every optional line skipped
        [*ROWS, "Всего строк: 2"],  # a count line in another language
    ],
)
def test_the_optional_lines_are_recognised_whether_asked_for_or_not(lines):
    outcome = parse_report("\r\n".join(lines) + "\n", REQUEST, True, "rid")
    assert outcome == Report(EXPECTED, (), "rid")


def test_a_count_that_disagrees_with_the_rows_is_not_believed():
    outcome = parse_report("\n".join([COLUMNS, ROWS[0], "Total rows: 2"]), REQUEST, True, None)
    assert isinstance(outcome, TryLater) and "counted 2 rows but sent 1" in outcome.message


def test_other_columns_than_asked_are_not_believed():
    other = "Date\tCampaignId\tCampaignName\tClicks\tImpressions\tCost"
    outcome = parse_report("\n".join([other, *ROWS]), REQUEST, True, None)
    assert isinstance(outcome, TryLater) and "other columns" in outcome.message


def test_an_unreadable_line_is_skipped_and_kept_to_show():
    bad = [
        "2024-03-09\t703\tx\t1\t1\t10000",  # outside the range
        "2024-03-01\t704\tx\t1\t1\t12.5",  # an amount where micros were asked for
        "2024-03-01\tabc\tx\t1\t1\t10000",
        "2024-03-01\t705\tx\t-1\t1\t10000",
        "2024-03-01\t706",
    ]
    outcome = parse_report(
        "\n".join([COLUMNS, ROWS[0], *bad, "Total rows: 6"]), REQUEST, True, None
    )
    assert isinstance(outcome, Report)
    assert outcome.rows == EXPECTED[:1]
    assert [s.split("'")[1].split("\\t")[1] for s in outcome.skipped] == [
        "703",
        "704",
        "abc",
        "705",
        "706",
    ]
    assert "outside 2024-03-01..2024-03-02" in outcome.skipped[0]
    assert "2 columns, expected 6" in outcome.skipped[4]


@pytest.mark.parametrize(
    ("text", "micros", "value"),
    [
        ("1234560000", True, Decimal("1234.56")),
        ("10000", True, Decimal("0.01")),
        ("123456789012345678900000", True, Decimal("123456789012345678.9")),
        ("0", True, Decimal(0)),
        ("1234.56", False, Decimal("1234.56")),
        ("99999999999999999999.99", False, Decimal("99999999999999999999.99")),
    ],
)
def test_money_is_exact(text, micros, value):
    assert money(text, micros) == value
    assert str(money(text, micros)) == str(value)


@pytest.mark.parametrize(
    ("text", "micros"),
    [("12.5", True), ("-10000", True), ("1e6", True), ("NaN", False), ("1,5", False)],
)
def test_money_that_is_not_money_is_refused(text, micros):
    with pytest.raises(ValueError):
        money(text, micros)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [({"retryIn": "7"}, 7.0), ({"RETRYIN": "30"}, 30.0), ({}, 10.0), ({"retryIn": "soon"}, 10.0)]
    + [({"retryIn": "0"}, 1.0), ({"retryIn": "99999"}, 3600.0), ({"retryIn": "nan"}, 10.0)],
)
def test_retry_in_is_read_within_bounds(headers, seconds):
    assert retry_in(Reply(201, "", headers)) == seconds


def test_halves_meet_without_a_gap():
    assert halves(date(2024, 3, 1), date(2024, 3, 2)) == (
        (date(2024, 3, 1), date(2024, 3, 1)),
        (date(2024, 3, 2), date(2024, 3, 2)),
    )
    assert halves(date(2024, 2, 27), date(2024, 3, 3))[0][1] == date(2024, 2, 29)


def test_an_error_body_in_another_shape_is_still_shown():
    outcome = refusal(Reply(400, "<html>Bad gateway config</html>", {"RequestId": "r9"}), REQUEST)
    assert outcome.message == (
        "Yandex Direct answered HTTP 400: <html>Bad gateway config</html> (request_id r9)"
    )
