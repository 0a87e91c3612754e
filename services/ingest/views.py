"""Handlers of the ingest API."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from aiohttp import web

from common import appkeys
from common.contacts import mask_email, mask_name, mask_phone
from common.errors import BadRequest
from common.leads import LeadService
from common.store import Tx
from common.web import header_text, json_response, request_id
from services.ingest.keys import LEADS_CREATED, RATE_LIMITER
from services.ingest.openapi import document
from services.ingest.parsing import build_lead, is_tilda_probe, read_fields, tilda_key
from services.ingest.schemas import MAX_KEY_LENGTH

log = logging.getLogger(__name__)


def fingerprint(fields: dict[str, Any]) -> str:
    """What a retried submission must repeat for its Idempotency-Key to replay the answer."""
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


async def create_lead(request: web.Request) -> web.Response:
    app = request.app
    settings = app[appkeys.SETTINGS].ingest
    await app[RATE_LIMITER].check(request.remote or "unknown")
    fields = await read_fields(request)
    if is_tilda_probe(fields):
        return json_response({"status": "test", "message": "probe accepted, no lead created"})
    data = build_lead(fields, settings.default_phone_region)

    # Tilda cannot send the header; its tranid identifies the submission across its retries.
    given = request.headers.get("Idempotency-Key")
    if given is not None and given != header_text(request, "Idempotency-Key"):
        raise BadRequest("Idempotency-Key must be UTF-8 text")
    key = given or tilda_key(fields)
    if key is not None and not 0 < len(key) <= MAX_KEY_LENGTH:
        raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    digest = fingerprint(data) if key else ""
    hours = settings.idempotency_hours
    repeats_off = data["campaign_id"] in settings.repeat_check_off
    window = 0 if repeats_off else settings.repeat_window_minutes
    metadata = {
        "request_id": request_id(request),
        "source": "ingest",
        "content_type": request.content_type,
        "user_agent": (header_text(request, "User-Agent") or "")[:200],
    }

    def unit(tx: Tx) -> tuple[dict[str, Any], bool]:
        if key and (stored := tx.idempotency.lookup(key, digest, hours)):
            return stored, True
        lead_id, task_id = LeadService.create_or_repeat(tx, data, metadata, window)
        answer: dict[str, Any] = {"lead_id": lead_id, "task_id": task_id, "status": "new"}
        if task_id is None:
            answer |= {"status": "repeat", "repeat": True}
        if "warnings" in data:
            answer["warnings"] = data["warnings"]
        if key:
            tx.idempotency.remember(key, digest, answer, hours)
        return answer, False

    answer, replayed = await app[appkeys.STORE].write(unit)
    if replayed:
        return json_response(answer, headers={"Idempotent-Replayed": "true"})
    repeat = answer["status"] == "repeat"
    if not repeat:
        app[LEADS_CREATED].labels(data["campaign_id"]).inc()
    log.info(
        "repeat submission" if repeat else "lead accepted",
        extra={
            "request_id": metadata["request_id"],
            "lead_id": answer["lead_id"],
            "campaign_id": data["campaign_id"],
            "contact_name": mask_name(data.get("name")),
            "phone": mask_phone(data.get("phone")),
            "email": mask_email(data.get("email")),
        },
    )
    return json_response(answer)


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())
