"""A lead as a row of an export, in the reader's words: the headers in their language, statuses
in words, times in the dashboard's zone, money as a number with its currency, and the quiz and
other answers (`extra`) as columns of their own."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from babel.numbers import get_decimal_symbol

from common.model import LEAD_COLUMNS, Lead
from services.dashboard import formats
from services.dashboard.i18n import Words

# Every column of a lead but the bookkeeping ones, in the model's order.
FIELDS = tuple(c for c in LEAD_COLUMNS if c not in ("extra", "updated_at", "version", "warnings"))
TIMES = ("created_at", "paid_at")
MONEY = "payment_amount"
IN_WORDS = {"status": "status", "conversion_status": "conversion"}  # field: catalogue kind
# Answers with a column of their own, the most common first; the rarer ones share one column,
# so a form that sends a new key with every lead cannot make a file of thousands of columns.
ANSWER_COLUMNS = 50


class Money(NamedTuple):
    amount: Decimal
    currency: str


Cell = str | Money | datetime | bool | None


class LeadTable:
    """The columns of an export of leads and each lead's cells, typed (a spreadsheet writes
    each type as its own, a CSV writes them as text)."""

    def __init__(self, t: Words, answer_keys: Iterable[str]):
        self.t = t
        self.decimal_mark = get_decimal_symbol(t.lang)  # once: Babel's formatting is slow
        keys = list(answer_keys)
        self.answers = keys[:ANSWER_COLUMNS]
        self.more_answers = len(keys) > ANSWER_COLUMNS
        self._own = set(self.answers)

    def headers(self) -> list[str]:
        """The fields in the reader's words (a time's with the zone it is in), then the
        answers as the form named them."""
        zone = self.t.zone.key
        names = [
            f"{self.t.name('field', f)} ({zone})" if f in TIMES else self.t.name("field", f)
            for f in FIELDS
        ]
        names += self.answers
        if self.more_answers:
            names.append(self.t("export_other_answers"))
        return names

    def cells(self, lead: Lead) -> list[Cell]:
        values = [self._cell(lead, field) for field in FIELDS]
        values += [lead.extra.get(key) or None for key in self.answers]
        if self.more_answers:
            rest = [f"{k}: {v}" for k, v in lead.extra.items() if k not in self._own]
            values.append("; ".join(rest) or None)
        return values

    def _cell(self, lead: Lead, field: str) -> Cell:
        value = getattr(lead, field)
        if value is None or value == "":
            return None
        if isinstance(value, bool):  # "amount not set yet": said of a payment alone
            return value if lead.paid_at else None
        text = str(value)
        if field in TIMES:
            try:  # the wall-clock time in the dashboard's zone (a spreadsheet has no zones)
                return formats.local(text, self.t.zone).replace(tzinfo=None)
            except ValueError:
                return text  # not a time we could read: shown as it was kept
        if field == MONEY:
            try:
                return Money(Decimal(text), lead.payment_currency or "RUB")
            except InvalidOperation:
                return text
        if field in IN_WORDS:
            return self.t.name(IN_WORDS[field], text)
        return text

    def text(self, cell: Cell) -> str:
        """A cell as a CSV writes it: a time as `2026-11-29 07:33:05` (which Excel reads as a
        date in any language), an amount with the language's decimal mark and no grouping
        (`1500,50`, which Russian Excel reads as a number), yes or no in words."""
        if cell is None:
            return ""
        if isinstance(cell, bool):
            return self.t("yes" if cell else "no")
        if isinstance(cell, datetime):
            return cell.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(cell, Money):
            return f"{cell.amount:.2f}".replace(".", self.decimal_mark)
        return cell
