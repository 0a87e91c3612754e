"""Handlers of the ingest API."""

from __future__ import annotations

import logging

from aiohttp import web

from common import appkeys, logs
from common.alerts import raising
from common.contacts import mask_email, mask_name, mask_phone
from common.leads import Acceptance, Accepted, Submission
from common.store import Tx
from common.web import json_response
from services.ingest.keys import LEADS_CREATED, RATE_LIMITER
from services.ingest.openapi import document
from services.ingest.parsing import read_submission

log = logging.getLogger(__name__)


async def create_lead(request: web.Request) -> web.Response:
    app = request.app
    settings = app[appkeys.SETTINGS].ingest
    await app[RATE_LIMITER].check(request.remote or "unknown")
    submission = await read_submission(request, settings.default_phone_region)
    if submission is None:
        return json_response({"status": "test", "message": "probe accepted, no lead created"})
    alerts = app[appkeys.SETTINGS].alerts

    def announce(tx: Tx, accepted: Accepted) -> None:
        if not accepted.replayed and not accepted.repeat:  # opt-in: [alerts.*] new_leads
            raising.new_lead(
                tx, alerts, str(accepted.answer["lead_id"]), submission.lead.campaign_id
            )

    accepted = await app[appkeys.STORE].write(Acceptance(submission, settings, announce))
    if accepted.replayed:
        return json_response(accepted.answer, headers={"Idempotent-Replayed": "true"})
    if not accepted.repeat:
        app[LEADS_CREATED].inc(submission.lead.campaign_id)
    _log(submission, accepted)
    return json_response(accepted.answer)


def _log(submission: Submission, accepted: Accepted) -> None:
    lead = submission.lead
    logs.fields_line(
        log,
        logging.INFO,
        "repeat submission" if accepted.repeat else "lead accepted",
        {
            "request_id": submission.metadata["request_id"],
            "lead_id": accepted.answer["lead_id"],
            "campaign_id": lead.campaign_id,
            "contact_name": mask_name(lead.name),
            "phone": mask_phone(lead.phone),
            "email": mask_email(lead.email),
        },
    )


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())
