"""The leads export as an XLSX workbook with typed cells: times as Excel dates, amounts as
numbers in their currency's format, everything else as text (never a formula).

XlsxWriter in constant-memory mode writes each row to a temporary file as soon as the next
row begins, and strings inline, so the memory a workbook takes does not grow with its rows;
it becomes an .xlsx (a zip) only when closed, so the file is served once it is whole."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import xlsxwriter
from babel.numbers import get_currency_symbol
from xlsxwriter.format import Format

from common.model import Lead
from services.dashboard import formats
from services.dashboard.lead_table import Cell, LeadTable, Money

MOST_ROWS = 1_048_576  # an Excel sheet's rows, the header's included
TIME_FORMATS = {"ru": "dd.mm.yyyy hh:mm:ss", "en": "yyyy-mm-dd hh:mm:ss"}
WIDTH = 18  # characters: a time, a phone or a name fits
NO_BREAK = "\xa0"


def money_format(currency: str, lang: str) -> str:
    """Excel's number format for amounts in `currency` as the language writes them (CLDR's
    pattern through Babel): `#,##0.00 "₽"` in Russian, `"RUB" #,##0.00` in English. Excel
    shows the grouping and decimal marks of the reader's own settings."""
    pattern = str(formats.locale(lang).currency_formats["standard"].pattern).split(";")[0]
    symbol = get_currency_symbol(currency, locale=lang).replace('"', "")
    if symbol[-1:].isalpha():  # CLDR's currency spacing: RUB 16,500, not RUB16,500
        pattern = re.sub(r"¤(?=[#0])", f"¤{NO_BREAK}", pattern)
        pattern = re.sub(r"(?<=[#0])¤", f"{NO_BREAK}¤", pattern)
    return pattern.replace("¤", f'"{symbol}"')


class LeadSheet:
    """Leads written into an XLSX file a row at a time; `close` makes the file whole."""

    def __init__(self, path: Path, table: LeadTable, most_rows: int = MOST_ROWS):
        self.table = table
        self.most_rows = most_rows
        self.lang = table.t.lang
        self.book = xlsxwriter.Workbook(
            str(path), {"constant_memory": True, "tmpdir": str(path.parent)}
        )
        self.sheet = self.book.add_worksheet(table.t("leads")[:31])
        self.time: Format = self.book.add_format(
            {"num_format": TIME_FORMATS.get(self.lang, TIME_FORMATS["en"])}
        )
        self.money: dict[str, Format] = {}
        headers = table.headers()
        self.sheet.set_column(0, len(headers) - 1, WIDTH)
        self.sheet.freeze_panes(1, 0)
        bold = self.book.add_format({"bold": True})
        for column, header in enumerate(headers):
            self.sheet.write_string(0, column, header, bold)
        self.rows = 1

    @property
    def room(self) -> int:
        """How many more leads fit: Excel's last row is kept for a note that the sheet stops
        short."""
        return self.most_rows - 1 - self.rows

    def add(self, leads: Iterable[Lead]) -> None:
        for lead in leads:
            for column, cell in enumerate(self.table.cells(lead)):
                self._write(column, cell)
            self.rows += 1

    def _write(self, column: int, cell: Cell) -> None:
        row = self.rows
        if cell is None:
            return
        if isinstance(cell, bool):
            self.sheet.write_boolean(row, column, cell)
        elif isinstance(cell, datetime):
            # The whole second, as the CSV writes it: Excel keeps a time as a fraction of a
            # day and readers round it, so :22.9996 would show as :23 here and :22 there.
            self.sheet.write_datetime(row, column, cell.replace(microsecond=0), self.time)
        elif isinstance(cell, Money):
            # Excel keeps every number as a double: 15 digits, enough for any amount.
            amount = float(cell.amount)
            self.sheet.write_number(row, column, amount, self._money(cell.currency))
        else:
            self.sheet.write_string(row, column, cell)  # text stays text: never run

    def _money(self, currency: str) -> Format:
        if currency not in self.money:
            style = {"num_format": money_format(currency, self.lang)}
            self.money[currency] = self.book.add_format(style)
        return self.money[currency]

    def close(self, note: str | None = None) -> None:
        """Finish the file; `note` (why it stops short) goes in the row after the last."""
        if note:
            self.sheet.write_string(self.rows, 0, note)
        self.sheet.autofilter(0, 0, max(self.rows - 1, 1), len(self.table.headers()) - 1)
        self.book.close()
