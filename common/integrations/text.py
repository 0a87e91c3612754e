"""A lead as lines a manager reads in the CRM: the message, the page, the quiz answers."""

from __future__ import annotations

from common.model import Lead

LABELS = (
    ("comment", "Комментарий"),
    ("page_url", "Страница"),
    ("referrer", "Откуда пришёл"),
)


def lead_text(lead: Lead) -> str:
    """`Label: value` lines: the comment, the page and referrer, then every extra field."""
    lines = [f"{label}: {getattr(lead, name)}" for name, label in LABELS if getattr(lead, name)]
    lines += [f"{key}: {value}" for key, value in lead.extra.items()]
    lines.append(f"leadrelay: {lead.id}")
    return "\n".join(lines)
