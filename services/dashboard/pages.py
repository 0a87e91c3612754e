"""What every dashboard page shares: its context (the words of the reader's language, times in
the dashboard's zone, the message an action left), and error pages in HTML for a person in a
browser, while the JSON API keeps its JSON errors (common.web)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from common import appkeys
from common.errors import DatabaseBusy, InvalidField, LeadrelayError, NotFound, RateLimited
from common.web import HTTP_CODES, Handler
from services.dashboard import auth, i18n

log = logging.getLogger(__name__)

# Paths that answer machines: their errors stay JSON whatever the client accepts.
MACHINE_PATHS = ("/api/", "/healthz", "/metrics", "/static/")
FLASH = "flash"
# What a filter's 422 says (services.dashboard.queries), and the catalogue's word for it.
MUSTS = (
    ("date", "must_be_date"),
    ("whole", "must_be_whole"),
    ("from ", "must_be_whole"),
    ("characters", "must_be_shorter"),
)
LARGEST_ID = 2**63 - 1  # the databases' integers end here (SQLite's INTEGER, PostgreSQL's bigint)


def words(request: web.Request) -> i18n.Words:
    """The reader's language (its cookie), times in the dashboard's zone."""
    zone = request.app[appkeys.SETTINGS].dashboard.zone
    return i18n.translator(i18n.language(request.cookies.get(i18n.COOKIE)), zone)


async def page_context(request: web.Request) -> dict[str, object]:
    t = words(request)
    session = await get_session(request)
    return {
        "t": t,
        "lang": t.lang,
        "other_lang": "en" if t.lang == "ru" else "ru",
        "csrf_token": await auth.csrf_token(request),
        "user": session.get("user"),
        "role": session.get("role"),
        "path": request.path_qs,
        "flash": session.pop(FLASH, None),  # shown once, on the page the action led to
        "zone": request.app[appkeys.SETTINGS].dashboard.timezone,
    }


async def flash(request: web.Request, text: str) -> None:
    """Tell the person what their action did, on the next page they see."""
    session = await get_session(request)
    session[FLASH] = text


def wants_html(request: web.Request) -> bool:
    """A person's browser: any dashboard page, unless the client asks for JSON alone."""
    if request.path.startswith(MACHINE_PATHS):
        return False
    accept = request.headers.get("Accept", "")
    return "text/html" in accept or "application/json" not in accept


@web.middleware
async def html_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An error a browser asked for becomes a page in the reader's language; the same
    status, and Retry-After or Allow where the JSON answer would carry them."""
    try:
        return await handler(request)
    except LeadrelayError as error:
        if not wants_html(request):
            raise
        return await error_page(request, error.status, error.code, error)
    except web.HTTPException as error:
        if error.status < 400 or not wants_html(request):
            raise
        kept = {k: v for k, v in error.headers.items() if k in ("Allow", "Retry-After")}
        code = HTTP_CODES.get(error.status, "http_error")
        return await error_page(request, error.status, code, None, kept)
    except Exception:
        if not wants_html(request):
            raise
        log.exception("unhandled error on %s %s", request.method, request.path)
        return await error_page(request, 500, "internal", None)


async def error_page(
    request: web.Request,
    status: int,
    code: str,
    error: LeadrelayError | None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    t = words(request)
    title = next(
        key
        for key in (f"error_title_{code}", f"error_{status}", f"error_{status // 100}00")
        if key in t.texts
    )
    wait = error.retry_after if isinstance(error, RateLimited | DatabaseBusy) else None
    text = f"error_text_{code}" if f"error_text_{code}" in t.texts else "error_text_other"
    # The text as the code wrote it, where no sentence of ours says as much (why a 403).
    shows_detail = error is not None and (code == "forbidden" or text.endswith("other"))
    context = {
        "status": status,
        "title": t(title),
        "text": t(text, wait=t("wait_seconds", count=wait or 0)),
        "fields": invalid_fields(t, error) if isinstance(error, InvalidField) else [],
        "detail": error.message if error is not None and shows_detail else None,
    }
    response = aiohttp_jinja2.render_template("error.html", request, context, status=status)
    response.headers.update(headers or {})
    if wait is not None:
        response.headers["Retry-After"] = str(wait)
    return response


def invalid_fields(t: i18n.Words, error: InvalidField) -> list[tuple[str, str]]:
    """Each refused field in words, and what it needs."""
    found = []
    for item in error.detail if isinstance(error.detail, list) else []:
        field = str(item.get("field", "")) if isinstance(item, dict) else ""
        message = str(item.get("message", "")) if isinstance(item, dict) else ""
        need = next((key for phrase, key in MUSTS if phrase in message), "must_be_other")
        if "one of" in message:
            need = "must_be_status"
        found.append((t.name("field", field), t(need)))
    return found


def row_id(request: web.Request, name: str, what: str) -> int:
    """A numeric id from the path (a task's, a payment's): a 404 naming `what` for anything
    that is not one, also for a number too large for the database (23 digits, say)."""
    text = request.match_info[name]
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(LARGEST_ID))
    if not digits or not 0 < int(text) <= LARGEST_ID:
        raise NotFound(f"no such {what}: {text[:40]}")
    return int(text)
