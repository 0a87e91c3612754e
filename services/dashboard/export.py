"""The exports (leads, the campaign report): CSV that Excel (in Russian too) opens readably and
cannot be tricked by.

- UTF-8 with a byte-order mark, or Excel reads the Cyrillic as mojibake;
- `;` between fields, the list separator of Russian Excel (a comma file opens as one column);
- a cell a spreadsheet would run as a formula (it starts with = + - @, a tab or a CR, as
  OWASP's "CSV Injection" lists) gets a leading apostrophe: a lead named
  =HYPERLINK(…) is shown, not run, and a phone +7916… stays text instead of a number;
- a long run of digits (a yclid) gets one too: Excel keeps only 15 significant digits;
- a number we computed (a count, an amount, a ROMI of -40.0) is written as it is: it is no
  formula, whatever its sign.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

import xlsxwriter
from babel.dates import format_date
from babel.numbers import get_currency_symbol
from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from common.report import Report

BOM = "\ufeff"
DELIMITER = ";"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXCEL_DIGITS = 15


def cell(value: object) -> str:
    if isinstance(value, int | Decimal | CsvNumber):
        return str(value)
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) or (text.isdigit() and len(text) > EXCEL_DIGITS):
        return "'" + text
    return text


class CsvRows:
    """Rows into CSV text, handed out a chunk at a time."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.buffer.write(BOM)
        self.writer = csv.writer(self.buffer, delimiter=DELIMITER)

    def add(self, values: Iterable[object]) -> None:
        self.writer.writerow([cell(v) for v in values])

    def take(self) -> bytes:
        chunk = self.buffer.getvalue().encode()
        self.buffer.seek(0)
        self.buffer.truncate()
        return chunk


REPORT_COLUMNS = (
    "campaign",
    "campaign_id",
    "direct_campaign_ids",
    "leads",
    "sales",
    "revenue",
    "lost",
    "lead_to_sale",
    "cost",
    "clicks",
    "impressions",
    "cpl",
    "cost_per_sale",
    "romi",
    "revenue_currencies",
    "cost_currencies",
)


def report_csv(report: Report) -> bytes:
    """The campaign report, a row per campaign; a measure without meaning is left empty."""
    rows = CsvRows()
    rows.add(REPORT_COLUMNS)
    for line in report.campaigns:
        values: dict[str, object] = {
            "campaign": line.name,
            "campaign_id": line.campaign_id,
            "direct_campaign_ids": " ".join(line.direct_campaign_ids),
        }
        for name, value in line.figures.measures().items():
            values[name] = " ".join(value) if isinstance(value, list) else value
        rows.add(values[column] for column in REPORT_COLUMNS)
    return rows.take()


# The reports' exports (campaigns, UTM, days) in the reader's language: the same table as CSV
# and as XLSX with typed cells (numbers, money with its currency, per cents, dates).


@dataclass(frozen=True)
class Column:
    title: str  # in the reader's language
    kind: str  # "text", "day", "count", "money" or "percent"
    currency: str | None = None  # a money column's, when the whole column is in one


@dataclass(frozen=True)
class Table:
    name: str  # the sheet's and the file's name
    columns: list[Column]
    rows: list[list[object]]  # str, date, int, Decimal or None (nothing to show)
    total: list[object] | None = None  # the totals' row, last; a list of things has none


def table_csv(table: Table, lang: str) -> bytes:
    """The table as CSV for the reader's Excel: numbers with the language's decimal sign,
    dates as the language writes them, the currency in a money column's title."""
    rows = CsvRows()
    rows.add(_titled(column) for column in table.columns)
    for values in _rows(table):
        rows.add(_csv_value(value, lang) for value in values)
    return rows.take()


def _rows(table: Table) -> list[list[object]]:
    return [*table.rows, table.total] if table.total is not None else table.rows


def _titled(column: Column) -> str:
    if column.kind == "percent":
        return f"{column.title}, %"
    return f"{column.title}, {column.currency}" if column.currency else column.title


def _csv_value(value: object, lang: str) -> object:
    if isinstance(value, date):
        return format_date(value, "short" if lang == "ru" else "yyyy-MM-dd", locale=lang)
    if isinstance(value, Decimal) and lang == "ru":
        return CsvNumber(str(value).replace(".", ","))
    return value


class CsvNumber(str):
    """A number already written in the reader's notation: no apostrophe before its sign."""


def table_xlsx(table: Table, lang: str) -> bytes:
    """The table as one XLSX sheet: counts and money as numbers (money formatted with its
    currency), per cents as fractions shown with %, days as dates, text as text (never a
    formula); the totals last, in bold."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet(table.name[:31])
    header = book.add_format({"bold": True, "text_wrap": True})
    formats = [_xlsx_format(book, column, lang, {}) for column in table.columns]
    bold = [_xlsx_format(book, column, lang, {"bold": True}) for column in table.columns]
    for n, column in enumerate(table.columns):
        sheet.write_string(0, n, _titled(column), header)
        sheet.set_column(n, n, 24 if n == 0 else 14)
    for r, values in enumerate(_rows(table), start=1):
        shown = bold if r == len(table.rows) + 1 else formats
        for n, (value, column) in enumerate(zip(values, table.columns, strict=True)):
            _xlsx_cell(sheet, r, n, value, column, shown[n])
    sheet.freeze_panes(1, 1)
    book.close()
    return out.getvalue()


def _xlsx_format(book: Workbook, column: Column, lang: str, extra: dict[str, object]) -> Format:
    pattern = {
        "day": "dd.mm.yyyy" if lang == "ru" else "yyyy-mm-dd",
        "count": "#,##0",
        "percent": "0.0%",
        "money": "#,##0.00"
        + (f' "{get_currency_symbol(column.currency, locale=lang)}"' if column.currency else ""),
    }.get(column.kind)
    return book.add_format(extra | ({"num_format": pattern} if pattern else {}))


def _xlsx_cell(
    sheet: Worksheet, r: int, n: int, value: object, column: Column, fmt: Format
) -> None:
    if value is None:
        sheet.write_blank(r, n, None, fmt)
    elif isinstance(value, date):
        sheet.write_datetime(r, n, datetime.combine(value, time()), fmt)
    elif isinstance(value, int | Decimal):
        number = float(value) / (100 if column.kind == "percent" else 1)
        sheet.write_number(r, n, number, fmt)
    else:
        sheet.write_string(r, n, str(value), fmt)
