"""The ceiling for ingest: a bare aiohttp + pydantic endpoint that parses and validates a lead,
phone normalised to E.164 with phonenumbers, email checked with email-validator (the
libraries ingest uses), and stores nothing.

python bench/ceiling.py PORT
"""

from __future__ import annotations

import sys

import phonenumbers
import uvloop
from aiohttp import web
from email_validator import validate_email
from pydantic import BaseModel, Field, ValidationError, field_validator


class Lead(BaseModel):
    name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=50)
    email: str | None = Field(None, max_length=254)
    comment: str | None = Field(None, max_length=5000)
    campaign_id: str | None = Field(None, max_length=200)
    utm_source: str | None = Field(None, max_length=500)
    utm_medium: str | None = Field(None, max_length=500)
    utm_campaign: str | None = Field(None, max_length=500)
    yclid: str | None = Field(None, max_length=100)
    page_url: str | None = Field(None, max_length=2048)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return (
            None if value is None else validate_email(value, check_deliverability=False).normalized
        )

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is None:
            return None
        number = phonenumbers.parse(value, "RU")
        if not phonenumbers.is_valid_number(number):
            raise ValueError("not a valid phone number")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


async def create(request: web.Request) -> web.Response:
    try:
        lead = Lead.model_validate_json(await request.read())
    except ValidationError as error:
        return web.json_response({"error": "invalid_field", "detail": str(error)}, status=422)
    return web.json_response({"lead_id": "-", "phone": lead.phone, "status": "new"})


def main() -> None:
    app = web.Application()
    app.router.add_post("/api/v1/leads", create)
    # The same event loop as the leadrelay processes (common.web.serve), so the ratio is fair.
    loop = uvloop.new_event_loop()
    web.run_app(
        app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None, loop=loop
    )


if __name__ == "__main__":
    main()
