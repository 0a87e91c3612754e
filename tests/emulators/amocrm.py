"""AmoCRM on the wire: POST /api/v4/leads/complex with a Bearer token."""

from __future__ import annotations

import itertools
from typing import Any

from aiohttp import web

from tests.emulators.faults import Emulator, control_routes

HTML_429 = "<html><head><title>429 Too Many Requests</title></head><body>Too Many</body></html>"


class AmoCrm(Emulator):
    def __init__(self, token: str):
        super().__init__()
        self.token = token
        self.ids = itertools.count(30_000_001)


def shape_problem(body: Any) -> str | None:
    """What is wrong with a complex-leads body, as AmoCRM would reject it."""
    if not isinstance(body, list) or not 1 <= len(body) <= 50:
        return "body must be an array of 1 to 50 leads"
    for lead in body:
        contacts = lead.get("_embedded", {}).get("contacts")
        if not isinstance(lead.get("name"), str) or not contacts:
            return "each lead needs a name and an embedded contact"
        for contact in contacts:
            for item in contact.get("custom_fields_values", []):
                if item.get("field_code") not in ("PHONE", "EMAIL"):
                    return f"unknown contact field_code {item.get('field_code')}"
                if not all(v.get("value") and v.get("enum_code") for v in item["values"]):
                    return "contact values need value and enum_code"
        for tag in lead["_embedded"].get("tags", []):
            if not tag.get("name"):
                return "a tag needs a name"
    return None


def create_app(amo: AmoCrm) -> web.Application:
    async def complex_leads(request: web.Request) -> web.Response:
        refusal = await amo.gate(
            lambda: web.Response(status=429, text=HTML_429, content_type="text/html"),
            lambda: web.json_response({"title": "Service Unavailable", "status": 503}, status=503),
        )
        if refusal is not None:
            return refusal
        if request.headers.get("Authorization") != f"Bearer {amo.token}":
            return web.json_response({"title": "Unauthorized", "status": 401}, status=401)
        body = await request.json()
        problem = shape_problem(body)
        if problem:
            answer = {"title": "Bad Request", "status": 400, "validation-errors": [problem]}
            return web.json_response(answer, status=400)
        created = []
        for lead in body:
            amo.received.append(lead)
            lead_id = next(amo.ids)
            created.append(
                {
                    "id": lead_id,
                    "contact_id": lead_id + 1,
                    "company_id": None,
                    "request_id": [lead.get("request_id", "0")],
                    "merged": False,
                }
            )
        return web.json_response(created)

    app = web.Application()
    app.add_routes([web.post("/api/v4/leads/complex", complex_leads), *control_routes(amo)])
    return app
