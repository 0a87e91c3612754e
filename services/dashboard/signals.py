"""What a stored failure says happened, for a person: the CRM refused with 400, did not
answer, rejected the credentials… read from the texts the integrations write
(common/integrations/base.py `classify_http` and `request`, the dispatcher's reasons)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from services.dashboard.i18n import Words

Cause = Literal[
    "refused",
    "credentials",
    "credentials_refresh",
    "credentials_missing",
    "timeout",
    "unreachable",
    "server",
    "rate_limited",
    "redirect",
    "unrouted",
    "gone",
    "other",
]
HTTP_STATUS = re.compile(r"\bHTTP (\d{3})\b")
GAVE_UP = re.compile(r"^gave up after \d+ attempts(?: that never finished)?:? ?")
# A phrase of the text and the cause it names; the first found wins, before any HTTP status
# (a token endpoint's 400 is a refused refresh, not a refused lead).
PHRASES: tuple[tuple[str, Cause], ...] = (
    ("token endpoint", "credentials_refresh"),
    ("no stored OAuth tokens", "credentials_missing"),
    ("no OAuth tokens", "credentials_missing"),
    ("did not answer in time", "timeout"),
    ("unreachable", "unreachable"),
    ("redirecting to", "redirect"),
    ("no CRM route", "unrouted"),
    ("the lead of this task does not exist", "gone"),
)


@dataclass(frozen=True)
class Failure:
    """One failure as a person reads it: its cause, the HTTP status when there was one, and
    the text as the integration wrote it (for the technical view)."""

    cause: Cause
    status: int | None
    text: str

    def why(self, t: Words) -> str:
        return t(f"why_{self.cause}", status=self.status or "")


def read_failure(text: str | None) -> Failure:
    raw = text or ""
    rest = GAVE_UP.sub("", raw)
    found = HTTP_STATUS.search(rest)
    status = int(found[1]) if found else None
    return Failure(_cause(rest, status), status, raw)


def _cause(text: str, status: int | None) -> Cause:
    ours = text.split("HTTP ", 1)[0].lower()  # not the CRM's own words quoted after it
    for phrase, cause in PHRASES:
        if phrase.lower() in ours:
            return cause
    if status is not None:
        if 300 <= status < 400:
            return "redirect"
        if status in (401, 403):
            return "credentials"
        if status == 429:
            return "rate_limited"
        if status >= 500 or status in (408, 425):
            return "server"
        return "refused"
    return "other"
