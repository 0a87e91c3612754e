"""What an event on a lead's timeline shows: its typed fields that say something, as text."""

from __future__ import annotations

import json
from dataclasses import fields

from common.events import LeadCreated, LeadRepeated, StoredEvent


def facts(payload: StoredEvent) -> list[tuple[str, str]]:
    """(field, value) of each field that is set; a submission's own fields for a created or
    repeated lead."""
    shown = payload.lead if isinstance(payload, LeadCreated | LeadRepeated) else payload
    found = []
    for f in fields(shown):
        value = getattr(shown, f.name)
        if value is not None and value is not False and value not in ((), [], {}):
            found.append((f.name, _text(value)))
    return found


def _text(value: object) -> str:
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
