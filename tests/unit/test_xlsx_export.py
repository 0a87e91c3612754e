"""The XLSX export's sheet: Excel's number formats for money per language, and a sheet that
stops at its last row with a note saying so."""

from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from common.model import Lead, LeadStatus
from services.dashboard.i18n import Words
from services.dashboard.lead_table import ANSWER_COLUMNS, LeadTable
from services.dashboard.xlsx import LeadSheet, money_format

NBSP = "\xa0"


@pytest.mark.parametrize(
    ("currency", "lang", "shown"),
    [
        ("RUB", "ru", f'#,##0.00{NBSP}"₽"'),
        ("RUB", "en", f'"RUB"{NBSP}#,##0.00'),
        ("USD", "en", '"$"#,##0.00'),
        ("EUR", "ru", f'#,##0.00{NBSP}"€"'),
    ],
)
def test_money_is_formatted_as_the_language_writes_its_currency(currency, lang, shown):
    assert money_format(currency, lang) == shown


def leads(count: int) -> list[Lead]:
    return [Lead(id=f"l{n}", campaign_id="c", status=LeadStatus.NEW) for n in range(count)]


def test_a_sheet_stops_at_its_last_row_and_says_why(tmp_path: Path):
    t = Words("ru", ZoneInfo("Europe/Moscow"))
    path = tmp_path / "leads.xlsx"
    sheet = LeadSheet(path, LeadTable(t, []), most_rows=6)  # a header, 4 leads, the note
    assert sheet.room == 4
    sheet.add(leads(4))
    assert sheet.room == 0
    sheet.close(t("export_cut", count=9, shown="4"))
    rows = [[c.value for c in row][:2] for row in openpyxl.load_workbook(path).active]
    assert [r[0] for r in rows[1:5]] == ["l0", "l1", "l2", "l3"]
    assert rows[5][0] == (
        "Здесь первые 4 из 9 заявок: больше строк на лист Excel не помещается. Все заявки есть"
        " в CSV."
    )


def test_the_rarest_answers_share_one_column():
    t = Words("en", ZoneInfo("UTC"))
    keys = [f"q{n:03d}" for n in range(ANSWER_COLUMNS + 2)]
    table = LeadTable(t, keys)
    assert table.headers()[-2:] == [keys[ANSWER_COLUMNS - 1], "Other answers"]
    lead = Lead(id="l", campaign_id="c", status=LeadStatus.NEW, extra={"q000": "a", "q051": "z"})
    cells = table.cells(lead)
    assert cells[len(table.headers()) - ANSWER_COLUMNS - 1] == "a"
    assert cells[-1] == "q051: z"


def test_a_time_is_the_second_the_csv_shows_never_rounded_up(tmp_path: Path):
    t = Words("en", ZoneInfo("UTC"))
    table = LeadTable(t, [])
    lead = Lead(
        id="l",
        campaign_id="c",
        status=LeadStatus.NEW,
        created_at="2026-11-29T07:33:22.999596+00:00",
    )
    path = tmp_path / "leads.xlsx"
    sheet = LeadSheet(path, table)
    sheet.add([lead])
    sheet.close()
    column = table.headers().index("Created (UTC)")
    cell = list(openpyxl.load_workbook(path).active.iter_rows(min_row=2))[0][column]
    shown = table.text(table.cells(lead)[column])
    assert shown == "2026-11-29 07:33:22"
    assert cell.value.strftime("%Y-%m-%d %H:%M:%S") == shown and cell.value.microsecond == 0
