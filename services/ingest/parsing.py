"""From a request (JSON, urlencoded, multipart) to a validated submission, in one pass."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from dataclasses import fields as fields_of
from typing import TypedDict
from urllib.parse import parse_qs, unquote, unquote_plus, urlsplit

import orjson
from aiohttp import web
from pydantic import ValidationError

from common.errors import BadRequest, InvalidField, UnsupportedMediaType
from common.leads import Submission
from common.model import UTM_FIELDS, Json, JsonObject, NewLead
from common.web import header_text, json_body, request_id
from services.ingest.forms import Form, multipart, urlencoded
from services.ingest.schemas import MAX_KEY_LENGTH, LeadIn

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
KNOWN = set(LeadIn.model_fields)
COOKIES_FIELD = "cookies"  # Tilda's "send cookies" option
MAX_EXTRA_FIELDS = 30
MAX_EXTRA_KEY = 64
MAX_EXTRA_VALUE = 1000
SCALARS = (str, int, float, bool)  # the JSON values a known field may take, read as text
NEW_LEAD_FIELDS = tuple(f.name for f in fields_of(NewLead))


async def read_submission(request: web.Request, region: str) -> Submission | None:
    """The submission: its lead, its idempotency key and where it came from; None for
    Tilda's probe. BadRequest, InvalidField (no usable contact) and the like otherwise."""
    form = await read_fields(request)
    split = _split(form.fields)  # one pass over the fields for everything below
    for name, (shown, reason) in form.unreadable.items():
        known = name.strip().lower()
        split.warnings.append(_warning(known if known in KNOWN else name, shown, reason))
    if split.probe:
        return None
    lead = build_lead(split, region)
    key = idempotency_key(request, split)
    metadata = {
        "request_id": request_id(request),
        "source": "ingest",
        "content_type": request.content_type,
        "user_agent": (header_text(request, "User-Agent") or "")[:200],
    }
    return Submission(lead, metadata, key, fingerprint(lead) if key else "")


def idempotency_key(request: web.Request, split: Split) -> str | None:
    """The Idempotency-Key header, else Tilda's tranid (Tilda cannot send the header; its
    tranid identifies the submission across its retries)."""
    given = request.headers.get("Idempotency-Key")
    if given is not None and given != header_text(request, "Idempotency-Key"):
        raise BadRequest("Idempotency-Key must be UTF-8 text")
    key = given or tilda_key(split.tranid, split.formid)
    if key is not None and not 0 < len(key) <= MAX_KEY_LENGTH:
        raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    return key


def fingerprint(lead: NewLead) -> str:
    """What a retried submission must repeat for its Idempotency-Key to replay the answer:
    the lead's fields that are set (the digest earlier versions kept, so keys stay valid:
    orjson with sorted keys writes the UTF-8 that json.dumps(ensure_ascii=False,
    separators=(",", ":"), sort_keys=True) did over asdict(lead), in a fifth of its time)."""
    shown = {
        name: value
        for name in NEW_LEAD_FIELDS
        if (value := getattr(lead, name)) is not None and value != {} and value != []
    }
    return hashlib.sha256(orjson.dumps(shown, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def read_fields(request: web.Request) -> Form:
    """The body as a flat mapping of field name to value (and a form's unreadable fields)."""
    kind = request.content_type
    if kind == "application/json":
        body = await json_body(request)
        if not isinstance(body, dict):
            raise BadRequest("the JSON body must be an object of fields")
        return Form(body)
    if kind == URLENCODED:
        return Form(await urlencoded(request))
    if kind == MULTIPART:
        return await multipart(request)
    raise UnsupportedMediaType(
        f"content type {kind!r} is not accepted; "
        "send application/json, application/x-www-form-urlencoded or multipart/form-data"
    )


CONTACTS = ("phone", "email")
TILDA_UTM_COOKIE = "TILDAUTM"
MAX_WARNING_VALUE = 200
Warning = dict[str, str]


def _warning(field: str, value: object, reason: str) -> Warning:
    """What was wrong with a field the lead was accepted without (or with a shortened)."""
    return {"field": field, "value": str(value)[:MAX_WARNING_VALUE], "reason": reason}


@dataclass
class Split:
    """The fields read in one pass: known ones (names matched case-insensitively) as text, the
    rest as bounded extras, Tilda's COOKIES, a warning for each value that cannot be text,
    whether it is Tilda's probe (test=test: it must not become a lead), and Tilda's tranid
    and formid (the last of each, whatever its case)."""

    known: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    cookies: str = ""
    warnings: list[Warning] = field(default_factory=list)
    probe: bool = False
    tranid: Json = None
    formid: Json = None


def _split(fields: JsonObject) -> Split:
    split = Split()
    known, extra, warnings = split.known, split.extra, split.warnings
    for key, value in fields.items():
        lowered = str(key).lower()
        name = lowered.strip()
        if lowered == "test" and value == "test":
            split.probe = True
        if name == "tranid":
            split.tranid = value
        elif name == "formid":
            split.formid = value
        if name in KNOWN:
            if isinstance(value, SCALARS):
                text = str(value).strip()
                if text:
                    known[name] = text
            elif value is not None:
                known.pop(name, None)
                warnings.append(_warning(name, _shown(value), "must be a string"))
        elif name == COOKIES_FIELD and isinstance(value, str):
            split.cookies = value
        elif len(extra) < MAX_EXTRA_FIELDS and value not in (None, ""):
            extra[str(key)[:MAX_EXTRA_KEY]] = _shown(value)[:MAX_EXTRA_VALUE]
    return split


def _shown(value: object) -> str:
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):  # deeper than orjson writes (254 levels)
        return "(a value nested too deeply to keep)"


def _cookie(cookies: str, name: str) -> str | None:
    for part in cookies.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


def _tilda_utm(cookies: str) -> dict[str, str]:
    """UTM fields from Tilda's TILDAUTM cookie.

    Tilda's forms script (tilda-forms-1.0.js, after "запоминанием utm-метки") lower-cases
    window.location.href, splits its query on "&", keeps each `utm_*=value` pair still
    percent-encoded as it was in the URL, joins them with "|||" and stores
    encodeURIComponent of that. So the cookie is decoded once, split, and each value
    decoded again as a query value ("+" is a space): «лето 2026» arrives right, not as
    `%d0%bb…`. It is sent inside COOKIES when the site's "send cookies" option is on;
    Tilda posts no utm_* fields itself.
    """
    raw = _cookie(cookies, TILDA_UTM_COOKIE)
    if not raw:
        return {}
    found = {}
    for part in unquote(raw).split("|||"):
        key, _, value = part.partition("=")
        key = key.strip().lower()
        value = unquote_plus(value).strip()
        if key in UTM_FIELDS and value:
            found[key] = value
    return found


def _fill_from_context(known: dict[str, str], cookies: str, warnings: list[Warning]) -> None:
    """Take yclid and UTM from the page URL, then Tilda's UTM cookie, and the Metrica
    ClientID from cookies; fields posted explicitly win."""
    page = known.get("page_url", "")
    missing = [name for name in ("yclid", *UTM_FIELDS) if name not in known]
    if missing and "?" in page:
        try:
            text = urlsplit(page).query
            # Parsed only if it can hold a missing name (written out, or percent-encoded).
            named = "%" in text or any(name in text for name in missing)
            query = parse_qs(text) if named else {}
        except ValueError as error:  # e.g. http://[::1 — the page is kept as text
            warnings.append(_warning("page_url", page, f"not a URL ({error}); UTM not read"))
            query = {}
        for name in missing:
            if query.get(name, [""])[0]:
                known[name] = query[name][0]
    if cookies:
        for name, value in _tilda_utm(cookies).items():
            known.setdefault(name, value)
        if "ym_client_id" not in known and (uid := _cookie(cookies, "_ym_uid")):
            known["ym_client_id"] = uid


class Problem(TypedDict):
    """One field pydantic refused, and why."""

    field: str
    message: str
    type: str
    max_length: int | None


def field_errors(error: ValidationError) -> list[Problem]:
    found = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "phone"
        found.append(
            Problem(
                field=field,
                message=item["msg"].removeprefix("Value error, "),
                type=item["type"],
                max_length=(item.get("ctx") or {}).get("max_length"),
            )
        )
    return found


def _validate(
    known: dict[str, str], region: str, warnings: list[Warning]
) -> tuple[LeadIn, list[Warning]]:
    """The lead, keeping what is valid: a bad optional field is cut (too long) or left out,
    with a warning. Only a lead with no usable phone and no usable email is refused."""
    refused = [
        {"field": w["field"], "message": w["reason"]} for w in warnings if w["field"] in CONTACTS
    ]
    for _ in range(len(known) + 1):  # each round cuts or leaves out at least one field
        try:
            return LeadIn.model_validate(known, context={"region": region}), warnings
        except ValidationError as error:
            problems = field_errors(error)
        for problem in problems:
            field = problem["field"]
            raw = known.get(field)
            if raw is None:  # the model's own rule: phone or email is required
                continue
            if problem["type"] == "string_too_long" and field not in CONTACTS:
                known[field] = raw[: problem["max_length"]]
                warnings.append(_warning(field, raw, f"cut to {problem['max_length']} characters"))
                continue
            del known[field]
            warnings.append(_warning(field, raw, problem["message"]))
            if field in CONTACTS:
                refused.append({"field": field, "message": problem["message"]})
        if not any(name in known for name in CONTACTS):
            break
    raise _refusal(refused)


def _refusal(detail: list[dict[str, str]]) -> InvalidField:
    if not detail:
        detail = [{"field": "phone", "message": "phone or email is required"}]
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in detail)
    return InvalidField(summary, detail)


def build_lead(split: Split, region: str) -> NewLead:
    """The validated, normalised lead; InvalidField when no usable contact remains."""
    _fill_from_context(split.known, split.cookies, split.warnings)
    _without_nul(split.known, split.warnings)
    lead, warnings = _validate(split.known, region, split.warnings)
    return lead.new_lead(split.extra, warnings)


def _without_nul(known: dict[str, str], warnings: list[Warning]) -> None:
    """A NUL character (U+0000: a broken form or a probe, never a person's text) is taken out
    of a field, with a warning; the lead is kept (PostgreSQL's text could not hold it). A field
    of NULs alone is left out. Extra fields are kept as JSON, where it is written escaped."""
    for name, text in list(known.items()):
        if "\x00" in text:
            cleaned = text.replace("\x00", "").strip()
            warnings.append(_warning(name, text.replace("\x00", "\\0"), "NUL characters taken out"))
            if cleaned:
                known[name] = cleaned
            else:
                del known[name]


def tilda_key(tranid: Json, formid: Json) -> str | None:
    """Tilda's own idempotency key: every submission carries `tranid` (and `formid`), and
    Tilda sends it again on each of its retries (it waits 5 s for a 200, then retries)."""
    if not isinstance(tranid, str | int) or not str(tranid).replace("\x00", "").strip():
        return None
    form = formid if isinstance(formid, str | int) else ""
    return f"tilda:{form}:{tranid}".replace("\x00", "")[:200]
