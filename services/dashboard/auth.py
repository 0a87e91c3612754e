"""Logins, sessions, CSRF tokens, the API's bearer token, and security headers."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from urllib.parse import quote

from aiohttp import web
from aiohttp_session import get_session, new_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from common import appkeys
from common.config import DashboardSettings
from common.errors import Forbidden, RateLimited, Unauthorized
from common.web import Handler, in_body_time
from services.dashboard.keys import LOGIN_LIMITER

log = logging.getLogger(__name__)

PUBLIC = ("/login", "/lang", "/healthz", "/metrics", "/static/")
SESSION_DAYS = 7
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def session_storage(settings: DashboardSettings) -> EncryptedCookieStorage:
    """Encrypted, signed cookie; a random key per start when none is configured."""
    secret = settings.secret_key.get_secret_value().encode() if settings.secret_key else None
    key = hashlib.sha256(secret).digest() if secret else os.urandom(32)
    return EncryptedCookieStorage(
        key,
        cookie_name="leadrelay_session",
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="Lax",
    )


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


async def check_csrf(request: web.Request) -> dict[str, str]:
    """The posted form, once its csrf_token matches the session's."""
    form = await in_body_time(request, request.post())
    session = await get_session(request)
    given = str(form.get("csrf_token", ""))
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden("the form's csrf_token is missing or wrong; reload the page", code="csrf")
    return {k: str(v) for k, v in form.items()}


def _bearer_ok(request: web.Request, settings: DashboardSettings) -> bool:
    header = request.headers.get("Authorization", "")
    if not settings.api_token or not header.startswith("Bearer "):
        return False
    expected = settings.api_token.get_secret_value().encode()
    return hmac.compare_digest(header.removeprefix("Bearer ").encode(), expected)


@web.middleware
async def require_login(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(PUBLIC):
        return await handler(request)
    settings = request.app[appkeys.SETTINGS].dashboard
    if await logged_in(request) or (
        request.path.startswith("/api/") and _bearer_ok(request, settings)
    ):
        return await handler(request)
    if request.path.startswith("/api/"):
        raise Unauthorized("log in, or send Authorization: Bearer <dashboard.api_token>")
    raise web.HTTPFound(f"/login?next={quote(request.path_qs)}")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.update(SECURITY_HEADERS)
    return response


async def logged_in(request: web.Request) -> bool:
    """The cookie names a session the server still holds open (logout closes it there, so a
    copied cookie dies with it)."""
    session = await get_session(request)
    sid = session.get("sid")
    if not session.get("user") or not isinstance(sid, str):
        return False
    user = await request.app[appkeys.STORE].read(lambda tx: tx.sessions.user(sid))
    return user == session["user"]


async def log_out(request: web.Request) -> None:
    session = await get_session(request)
    sid = session.get("sid")
    if isinstance(sid, str):
        await request.app[appkeys.STORE].write(lambda tx: tx.sessions.close(sid))
    session.invalidate()


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect. Browsers drop tabs and line breaks
    from a URL and read a backslash as a slash, so `/\t/evil.example` or `/\\evil.example`
    would lead off-site: any such character sends the user to /admin instead."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and target.isprintable()
        and "\\" not in target
    ):
        return target
    return "/admin"


async def log_in(request: web.Request, form: dict[str, str]) -> bool:
    """Check the credentials; failed tries are limited per client address."""
    settings = request.app[appkeys.SETTINGS].dashboard
    limiter = request.app[LOGIN_LIMITER]
    client = request.remote or "unknown"
    if limiter.exhausted(client):
        raise RateLimited("too many failed logins; wait a minute", limiter.retry_after())
    user_ok = hmac.compare_digest(form.get("username", "").encode(), settings.username.encode())
    password = settings.password.get_secret_value().encode()
    password_ok = hmac.compare_digest(form.get("password", "").encode(), password)
    if not (user_ok and password_ok):
        log.warning("failed dashboard login", extra={"client": client})
        await limiter.check(client)
        return False
    sid = secrets.token_urlsafe(32)
    user = settings.username
    await request.app[appkeys.STORE].write(
        lambda tx: tx.sessions.open(sid, user, SESSION_DAYS * 86400)
    )
    session = await new_session(request)  # a fresh session id: no fixation
    session["user"] = user
    session["sid"] = sid
    session["csrf"] = secrets.token_urlsafe(32)
    return True
