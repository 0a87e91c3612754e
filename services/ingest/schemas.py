"""The public shapes of the ingest API; the OpenAPI document is generated from them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from common.contacts import normalise_email, normalise_phone
from common.model import LEAD_FIELDS, NewLead

DEFAULT_CAMPAIGN = "default"
MAX_KEY_LENGTH = 200  # characters of an Idempotency-Key


class LeadIn(BaseModel):
    """A lead as a landing page sends it (names match case-insensitively)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        # What the service really requires, said in the document too: a phone or an email.
        json_schema_extra={"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]},
    )

    name: str | None = Field(None, max_length=200, description="Contact name")
    phone: str | None = Field(
        None, max_length=50, description="Any usual notation; stored as E.164"
    )
    email: str | None = Field(None, max_length=254, description="Phone or email is required")
    comment: str | None = Field(None, max_length=5000)
    campaign_id: str | None = Field(
        None, max_length=200, description="Else utm_campaign, else 'default'"
    )
    utm_source: str | None = Field(None, max_length=500)
    utm_medium: str | None = Field(None, max_length=500)
    utm_campaign: str | None = Field(None, max_length=500)
    utm_content: str | None = Field(None, max_length=500)
    utm_term: str | None = Field(None, max_length=500)
    yclid: str | None = Field(
        None, max_length=100, pattern=r"^[0-9A-Za-z_-]+$", description="Yandex click id"
    )
    ym_client_id: str | None = Field(
        None, max_length=40, pattern=r"^[0-9]+$", description="Metrica ClientID (_ym_uid)"
    )
    page_url: str | None = Field(None, max_length=2048)
    referrer: str | None = Field(None, max_length=2048)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None, info: ValidationInfo) -> str | None:
        region = (info.context or {}).get("region", "RU")
        return normalise_phone(value, region) if value else None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return normalise_email(value) if value else None

    @model_validator(mode="after")
    def _contact(self) -> LeadIn:
        if not self.phone and not self.email:
            raise ValueError("phone or email is required")
        return self

    def new_lead(self, extra: dict[str, str], warnings: list[dict[str, str]]) -> NewLead:
        """The lead LEAD_CREATED records: its campaign is campaign_id, else utm_campaign,
        else 'default'."""
        campaign = (self.campaign_id or self.utm_campaign or DEFAULT_CAMPAIGN)[:200]
        sent = {name: getattr(self, name) for name in LEAD_FIELDS}
        return NewLead(campaign_id=campaign, extra=extra, warnings=warnings, **sent)


class LeadAccepted(BaseModel):
    lead_id: str
    task_id: int | None = Field(description="The send_to_crm task; null for a repeat")
    status: str = Field(
        description="'new', or 'repeat' when the same phone or email came for the same"
        " campaign within ingest.repeat_window_minutes: lead_id is then the first lead"
    )
    repeat: bool | None = Field(None, description="true for a repeat submission")
    warnings: list[dict[str, str]] | None = Field(
        None,
        description="Optional fields the lead was accepted without, or with shortened:"
        " [{field, value, reason}]; absent when there were none",
    )


class ErrorBody(BaseModel):
    error: str = Field(description="Machine-readable code, e.g. invalid_field")
    message: str
    detail: object = Field(None, description="For invalid_field: [{field, message}]")
