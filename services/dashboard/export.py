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
from decimal import Decimal

from common.report import Report

BOM = "\ufeff"
DELIMITER = ";"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXCEL_DIGITS = 15


def cell(value: object) -> str:
    if isinstance(value, int | Decimal):
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
