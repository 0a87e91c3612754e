"""From a request body (JSON, urlencoded, multipart) to validated lead data."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web
from pydantic import ValidationError

from common.errors import BadRequest, InvalidField, UnsupportedMediaType
from common.model import UTM_FIELDS
from common.web import json_body
from services.ingest.schemas import DEFAULT_CAMPAIGN, LeadIn

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
KNOWN = set(LeadIn.model_fields)
COOKIES_FIELD = "cookies"  # Tilda's "send cookies" option
MAX_EXTRA_FIELDS = 30
MAX_EXTRA_KEY = 64
MAX_EXTRA_VALUE = 1000


async def read_fields(request: web.Request) -> dict[str, Any]:
    """The body as a flat mapping of field name to value."""
    if request.content_type == "application/json":
        body = await json_body(request)
        if not isinstance(body, dict):
            raise BadRequest("the JSON body must be an object of fields")
        return body
    if request.content_type in FORM_TYPES:
        try:
            form = await request.post()
        except (ValueError, AssertionError, UnicodeDecodeError, LookupError) as error:
            raise BadRequest(f"the form body cannot be read: {error}") from error
        # File uploads are not lead data; they are dropped, not stored.
        return {key: value for key, value in form.items() if isinstance(value, str)}
    raise UnsupportedMediaType(
        f"content type {request.content_type!r} is not accepted; "
        "send application/json, application/x-www-form-urlencoded or multipart/form-data"
    )


def is_tilda_probe(fields: dict[str, Any]) -> bool:
    """Tilda checks a webhook by posting test=test; it must not become a lead."""
    return any(k.lower() == "test" and v == "test" for k, v in fields.items())


def _text(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool | int | float | str):
        text = str(value).strip()
        return text or None
    raise InvalidField(f"{key}: must be a string", [{"field": key, "message": "must be a string"}])


def _split(fields: dict[str, Any]) -> tuple[dict[str, str], dict[str, str], str]:
    known: dict[str, str] = {}
    extra: dict[str, str] = {}
    cookies = ""
    for key, value in fields.items():
        name = str(key).strip().lower()
        if name in KNOWN:
            text = _text(name, value)
            if text is not None:
                known[name] = text
        elif name == COOKIES_FIELD and isinstance(value, str):
            cookies = value
        elif len(extra) < MAX_EXTRA_FIELDS and value not in (None, ""):
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            extra[str(key)[:MAX_EXTRA_KEY]] = shown[:MAX_EXTRA_VALUE]
    return known, extra, cookies


def _cookie(cookies: str, name: str) -> str | None:
    for part in cookies.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


def _fill_from_context(known: dict[str, str], cookies: str) -> None:
    """Take yclid and UTM from the page URL, and the Metrica ClientID from cookies."""
    page = known.get("page_url", "")
    missing = [name for name in ("yclid", *UTM_FIELDS) if name not in known]
    if missing and "?" in page:
        query = parse_qs(urlsplit(page).query)
        for name in missing:
            if query.get(name, [""])[0]:
                known[name] = query[name][0]
    if "ym_client_id" not in known and (uid := _cookie(cookies, "_ym_uid")):
        known["ym_client_id"] = uid


def field_errors(error: ValidationError) -> list[dict[str, str]]:
    found = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "phone"
        found.append({"field": field, "message": item["msg"].removeprefix("Value error, ")})
    return found


def build_lead(fields: dict[str, Any], region: str) -> dict[str, Any]:
    """Validated, normalised lead data ready for LEAD_CREATED; InvalidField otherwise."""
    known, extra, cookies = _split(fields)
    _fill_from_context(known, cookies)
    try:
        lead = LeadIn.model_validate(known, context={"region": region})
    except ValidationError as error:
        problems = field_errors(error)
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise InvalidField(summary, problems) from None
    data = lead.model_dump(exclude_none=True)
    campaign = lead.campaign_id or lead.utm_campaign or DEFAULT_CAMPAIGN
    data["campaign_id"] = campaign[:200]
    if extra:
        data["extra"] = extra
    return data
