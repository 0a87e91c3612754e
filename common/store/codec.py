"""Events and task payloads to the JSON the store keeps, and back: the one place that knows
the stored shapes.

A field's key is its name; a Decimal is kept as its exact text, a date as YYYY-MM-DD; a field
at its empty default (None, False, nothing) is left out, as earlier versions wrote it.
Reading passes over keys the class no longer has (the `lead_id` old task payloads carry, now
a column), so every row ever written still reads.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, TypeVar, get_args, get_origin, get_type_hints

from common.events import EVENT_CLASSES, LeadCreated, LeadRepeated, StoredEvent
from common.model import EventType, Json, JsonObject, NewLead, TaskType
from common.tasks import TASK_CLASSES, TaskPayload

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def event_data(payload: StoredEvent) -> JsonObject:
    """An event's `data` column."""
    if isinstance(payload, LeadCreated) and payload.repeat:
        return _object(payload.lead) | {"repeat": True}  # beside the submission's fields
    if isinstance(payload, LeadCreated | LeadRepeated):
        return _object(payload.lead)  # the submission's fields, flat, as ever
    return _object(payload)


def event_of(type: EventType, data: JsonObject) -> StoredEvent:
    """The event a row's `type` and `data` hold."""
    if type == EventType.LEAD_CREATED:
        return LeadCreated(_build(NewLead, data), repeat=data.get("repeat") is True)
    if type == EventType.LEAD_REPEATED:
        return LeadRepeated(_build(NewLead, data))
    return _build(EVENT_CLASSES[type], data)


def task_data(payload: TaskPayload) -> JsonObject:
    """A task's `payload` column."""
    return _object(payload)


def task_payload_of(type: TaskType, data: JsonObject) -> TaskPayload:
    """The payload a task row's `type` and `payload` hold."""
    return _build(TASK_CLASSES[type], data)


def _object(instance: DataclassInstance) -> JsonObject:
    found: JsonObject = {}
    for f in fields(instance):
        value = getattr(instance, f.name)
        if value is not None and value is not False and value not in ((), [], {}):
            found[f.name] = _plain(value)
    return found


def _plain(value: object) -> Json:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    raise TypeError(f"{type(value).__name__} has no stored form")


def _build(cls: type[T], data: JsonObject) -> T:
    values = {
        name: _typed(hint, data[name])
        for name, hint in _hints(cls).items()
        if data.get(name) is not None
    }
    return cls(**values)


@cache
def _hints(cls: type[DataclassInstance]) -> dict[str, object]:
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def _typed(hint: object, value: Json) -> object:
    kinds = {hint, *get_args(hint)}
    if Decimal in kinds:
        return Decimal(str(value))
    if date in kinds and isinstance(value, str):
        return date.fromisoformat(value)
    if isinstance(value, list) and any(get_origin(kind) is tuple for kind in kinds):
        return tuple(value)
    return value
