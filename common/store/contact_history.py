"""What intake asks of a contact before it makes a lead, and how a batch asks it ahead.

One statement answers it: the first lead of the campaign since the repeat window opened
with this phone or e-mail (a repeat), and whether any lead ever had either (the overview's
repeat leads). It is the one read a new lead needs, so on PostgreSQL it would be a round
trip per lead. A group-commit batch on PostgreSQL therefore sends every lead's question
before any of its units runs (`ask`), and each unit reads its answer (`answer`): one wait
for the batch; where the database joins laterally (PostgreSQL), the batch's questions go
as one statement at its first answer (each question's three parts run for its own row of
a VALUES list), not as one statement a lead: a statement is the writer's largest cost
there. Those answers were read before the batch's own leads were written, so each
is completed with the leads made earlier in the same transaction (`made`). Where nothing
was asked ahead (SQLite, or a batch run again unit by unit), the unit asks when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from common.contacts import fold
from common.model import campaign_key
from common.store.sql import Row, Sql

# A contact's leads of every campaign within a window, the earliest first (bounded: of one
# campaign a window is minutes, so one contact's rows are few; past the bound, a new lead).
_WINDOW = (
    "SELECT id, created_at, campaign_id FROM (SELECT id, created_at, campaign_id FROM leads"
    " WHERE {} = ? AND created_at >= ? ORDER BY created_at LIMIT 100) AS w"
)
# Whether any lead ever had the phone or the e-mail: a row of NULLs if so.
_SEEN = (
    "SELECT NULL AS id, NULL AS created_at, NULL AS campaign_id"
    " WHERE EXISTS (SELECT 1 FROM leads WHERE phone = ?)"
    " OR EXISTS (SELECT 1 FROM leads WHERE email_key = ?)"
)
_IN_WINDOW = f"{_WINDOW.format('phone')} UNION ALL {_WINDOW.format('email_key')} UNION ALL {_SEEN}"
# The same three parts for every question of a batch at once, each tagged with its number.
_EACH = (
    _IN_WINDOW.replace("phone = ?", "phone = q.phone")
    .replace("email_key = ?", "email_key = q.email_key")
    .replace("created_at >= ?", "created_at >= q.since")
)
_TOGETHER = (
    "SELECT q.n, a.id, a.created_at, a.campaign_id"
    " FROM (VALUES {}) AS q (n, phone, email_key, since) CROSS JOIN LATERAL ({}) AS a"
)
Answer = tuple[str | None, bool]  # the first lead in the window (a repeat of it), and seen
Question = tuple[str | None, str | None, str | None]  # phone, folded e-mail, window's start


@dataclass(frozen=True, slots=True)
class _Made:
    """A lead made in this transaction, as the questions asked ahead could not see it."""

    id: str
    created_at: str
    campaign_key: str
    phone: str | None
    email_key: str | None


class ContactHistory:
    def __init__(self, sql: Sql):
        self.sql = sql
        self._asked: dict[Question, Callable[[], list[Row]]] = {}
        self._made: list[_Made] = []
        self._waiting: list[Question] = []  # asked, to go together at the first answer
        self._answers: dict[Question, list[Row]] = {}

    @staticmethod
    def _question(
        phone: str | None, email_key: str | None, since: str | None
    ) -> tuple[str, tuple[str | None, ...]]:
        if since is None:
            return _SEEN, (phone, email_key)
        return _IN_WINDOW, (phone, since, email_key, since, phone, email_key)

    def ask(self, phone: str | None, email: str | None, since: str | None) -> None:
        """Send the question now (or, on a database that joins laterally, with the others
        at the first answer); its answer is read by `answer` with the same contact."""
        question = (phone, fold(email), since)
        if self.sql.joins_lateral:
            self._waiting.append(question)
            self._asked[question] = partial(self._together, question)
            return
        self._asked[question] = self.sql.asking(*self._question(*question))

    def _together(self, question: Question) -> list[Row]:
        """The answer to `question`, asking every waiting question first in one statement."""
        if self._waiting:
            waiting, self._waiting = self._waiting, []
            rows = ", ".join(f"({n}, ?, ?, ?)" for n in range(len(waiting)))
            found = self.sql.all(
                _TOGETHER.format(rows, _EACH), [value for asked in waiting for value in asked]
            )
            answers: list[list[Row]] = [[] for _ in waiting]
            for row in found:
                answers[row["n"]].append(row)
            self._answers.update(zip(waiting, answers, strict=True))
        return self._answers.pop(question)

    def answer(
        self, campaign_id: str, phone: str | None, email: str | None, since: str | None
    ) -> Answer:
        """The first lead of this campaign since `since` with this phone or e-mail (None, or
        no `since`: none looked for), and whether any lead ever had either."""
        email_key = fold(email)
        asked = self._asked.pop((phone, email_key, since), None)
        made: list[_Made] = []
        if asked is None:
            rows = self.sql.all(*self._question(phone, email_key, since))
        else:
            rows = asked()
            made = [
                lead
                for lead in self._made
                if (phone is not None and lead.phone == phone)
                or (email_key is not None and lead.email_key == email_key)
            ]
        key = campaign_key(campaign_id)
        found = [
            (row["created_at"], row["id"])
            for row in rows
            if row["id"] is not None and campaign_key(row["campaign_id"]) == key
        ]
        if since is not None:  # a lead made in this transaction came after `since`
            found += [(lead.created_at, lead.id) for lead in made if lead.campaign_key == key]
        return (min(found)[1] if found else None), bool(rows) or bool(made)

    def made(
        self, lead_id: str, created_at: str, campaign_id: str, phone: str | None, email: str | None
    ) -> None:
        """A lead was made in this transaction: questions still to be read must see it."""
        if self._asked:
            self._made.append(
                _Made(lead_id, created_at, campaign_key(campaign_id), phone, fold(email))
            )

    def forget(self) -> None:
        """The batch runs again, unit by unit: every question is asked anew."""
        self._asked.clear()
        self._made.clear()
        self._waiting.clear()
        self._answers.clear()
