"""The words of an alert, made when it is sent from the lead as it is then (an erased lead is
never announced with its phone), and their shape per channel: Telegram's HTML with our text
escaped, cut to the Bot API's 4096 characters; plain text for e-mail and Telegram's fallback."""

from __future__ import annotations

import html
from dataclasses import dataclass

from common.alerts.subjects import AlertKind
from common.alerts.words import words
from common.contacts import mask_email, mask_name, mask_phone
from common.model import Lead
from common.tasks import SendAlert

# sendMessage: "Text of the message to be sent, 1-4096 characters after entities parsing".
TELEGRAM_LIMIT = 4096
CUT = "…"
COMMENT_SHOWN = 300


@dataclass(frozen=True)
class Message:
    subject: str
    lines: tuple[str, ...] = ()

    def plain(self, limit: int | None = None) -> str:
        text = "\n".join((self.subject, *self.lines))
        return text if limit is None or len(text) <= limit else text[: limit - 1] + CUT

    def telegram_html(self) -> str:
        """The subject in bold and every text escaped, at most TELEGRAM_LIMIT characters
        once Telegram has parsed the entities (what it counts); cut with an ellipsis."""
        body = self.plain(TELEGRAM_LIMIT)
        subject, _, rest = body.partition("\n")
        shown = f"<b>{html.escape(subject, quote=False)}</b>"
        return shown + ("\n" + html.escape(rest, quote=False) if rest else "")


def message_for(
    alert: SendAlert, lead: Lead | None, lead_id: str, full: bool, language: str = "ru"
) -> Message:
    said = words(language)
    match AlertKind(alert.kind):
        case AlertKind.NEW_LEAD:
            return _new_lead(said, lead, lead_id, full)
        case AlertKind.DELIVERY_FAILED:
            return _failed_lead(said, lead, lead_id, alert.problem, full)
        case AlertKind.PROBLEM:
            return Message(said["problem"].format(problem=alert.problem), (f"({alert.key})",))
        case AlertKind.RECOVERED:
            return Message(said["recovered"].format(problem=alert.problem), (f"({alert.key})",))


def _contact(said: dict[str, str], lead: Lead, full: bool) -> list[str]:
    name, phone, email = lead.name, lead.phone, lead.email
    if not full:
        name, phone, email = mask_name(name), mask_phone(phone), mask_email(email)
    shown = [(said["name"], name), (said["phone"], phone), (said["email"], email)]
    return [f"{label}: {value}" for label, value in shown if value]


def _new_lead(said: dict[str, str], lead: Lead | None, lead_id: str, full: bool) -> Message:
    if lead is None:
        return Message(said["new_lead"], (said["gone"].format(id=lead_id),))
    lines = [f"{said['campaign']}: {lead.campaign_id}", *_contact(said, lead, full)]
    if lead.utm_source:
        lines.append(f"{said['source']}: {lead.utm_source}")
    if full and lead.comment:
        lines.append(f"{said['comment']}: {lead.comment[:COMMENT_SHOWN]}")
    lines.append(said["lead"].format(id=lead.id))
    return Message(f"{said['new_lead']}: {lead.campaign_id}", tuple(lines))


def _failed_lead(
    said: dict[str, str], lead: Lead | None, lead_id: str, problem: str, full: bool
) -> Message:
    lines = [f"{said['reason']}: {problem}"]
    if lead is not None:
        lines = [f"{said['campaign']}: {lead.campaign_id}", *_contact(said, lead, full), *lines]
    lines.append(said["retry_hint"].format(id=lead_id))
    return Message(said["not_delivered"], tuple(lines))
