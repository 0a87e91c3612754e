"""Logins, sessions, CSRF tokens, the API's bearer token, and security headers."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from urllib.parse import quote

from aiohttp import web
from aiohttp_session import get_session, new_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from common import appkeys
from common.audit import Action, AuditEntry
from common.config import DashboardSettings
from common.errors import BadRequest, Forbidden, RateLimited, Unauthorized, UnsupportedMediaType
from common.model import Role
from common.store import Store, Tx
from common.store.sessions import SessionUser
from common.users import NOBODY, password_matches
from common.web import NUL, NUL_IN_ADDRESS, Handler, in_body_time
from services.dashboard.keys import LOGIN_LIMITER, SESSIONS

log = logging.getLogger(__name__)

PUBLIC = ("/login", "/lang", "/healthz", "/metrics", "/static/")
SESSION_DAYS = 7
URLENCODED = "application/x-www-form-urlencoded"
TRIED_NAME = 100  # characters of a failed login's name kept in the audit log
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


USER = "leadrelay_user"  # the request's SessionUser, once require_login has found it
GENERATED_KEY = "dashboard_secret_key"  # Store.kept_secret's name for a key we made


async def session_key(settings: DashboardSettings, store: Store) -> str:
    """dashboard.secret_key, else the one made on the first start and kept beside the
    database: a restart (or another dashboard on the same database) reads the same key,
    so nobody is logged out by it."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    return await store.kept_secret(GENERATED_KEY)


def session_storage(secret: str) -> EncryptedCookieStorage:
    """Encrypted, signed cookie under a key derived from `secret`."""
    return EncryptedCookieStorage(
        hashlib.sha256(secret.encode()).digest(),
        cookie_name="leadrelay_session",
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="Lax",
    )


@web.middleware
async def sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp-session's middleware, made once the store has given the key (at start)."""
    return await request.app[SESSIONS](request, handler)


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


async def check_csrf(request: web.Request) -> dict[str, str]:
    """The posted form, once its csrf_token matches the session's."""
    # Every form of the dashboard is urlencoded, which request.post() reads within the body
    # limit; its multipart reader counts only the parts' contents, so a form of empty parts
    # streamed without end (300 MB to /login grew the process by as much).
    if request.content_type != URLENCODED:
        raise UnsupportedMediaType(f"a form is posted as {URLENCODED}")
    try:
        form = await in_body_time(request, request.post())
    # LookupError: a charset Python does not know; ValueError (UnicodeError too): bytes not in
    # the charset named, or a charset that is no text encoding (base64, punycode).
    except (LookupError, ValueError) as error:
        raise BadRequest(f"the form cannot be read as text: {error}"[:200]) from error
    session = await get_session(request)
    given = str(form.get("csrf_token", ""))
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden("the form's csrf_token is missing or wrong; reload the page", code="csrf")
    fields = {k: str(v) for k, v in form.items()}
    if any("\x00" in f"{name}{value}" for name, value in fields.items()):
        raise BadRequest("a field of the form holds a NUL character (U+0000)")
    return fields


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
    if user := await logged_in(request):
        request[USER] = user
        return await handler(request)
    if request.path.startswith("/api/") and _bearer_ok(request, settings):
        return await handler(request)
    if request.path.startswith("/api/"):
        raise Unauthorized("log in, or send Authorization: Bearer <dashboard.api_token>")
    raise web.HTTPFound(f"/login?next={quote(request.path_qs)}")


@web.middleware
async def no_nul_in_address(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The dashboard reads its query (filters, searches, pages): one holding a NUL character
    is a 400 naming it (common.web refuses one in a path, for every process)."""
    if NUL in request.raw_path:
        raise BadRequest(NUL_IN_ADDRESS)
    return await handler(request)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.update(SECURITY_HEADERS)
    return response


async def logged_in(request: web.Request) -> SessionUser | None:
    """Whose session the cookie names, if the server still holds it open (logout, and
    removing the user, close it there, so a copied cookie dies with it). The name and role
    are the server's, not the cookie's."""
    session = await get_session(request)
    sid = session.get("sid")
    if not session.get("user") or not isinstance(sid, str):
        return None
    user = await request.app[appkeys.STORE].read(lambda tx: tx.sessions.user(sid))
    return user if user is not None and user.name == session["user"] else None


def current_user(request: web.Request) -> SessionUser | None:
    """The logged-in person of this request (None for the API's bearer token)."""
    user = request.get(USER)
    return user if isinstance(user, SessionUser) else None


async def log_out(request: web.Request) -> None:
    session = await get_session(request)
    sid, user = session.get("sid"), current_user(request)
    if isinstance(sid, str):
        said = AuditEntry(user.name, Action.LOGOUT, address=request.remote or "") if user else None

        def unit(tx: Tx) -> None:
            tx.sessions.close(sid)
            if said is not None:
                tx.audit.add(said)

        await request.app[appkeys.STORE].write(unit)
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
    limiter = request.app[LOGIN_LIMITER]
    client = request.remote or "unknown"
    if limiter.exhausted(client):
        raise RateLimited("too many failed logins; wait a minute", limiter.retry_after())
    name = form.get("username", "")
    user = await _who(request, name, form.get("password", ""))
    store = request.app[appkeys.STORE]
    if user is None:
        log.warning("failed dashboard login", extra={"client": client})
        # The name tried, never the password; as many lines as the limiter lets tries through.
        tried = AuditEntry(name[:TRIED_NAME], Action.LOGIN_FAILED, address=client)
        await store.write(lambda tx: tx.audit.add(tried))
        await limiter.check(client)
        return False
    sid = secrets.token_urlsafe(32)
    said = AuditEntry(user.name, Action.LOGIN, address=client, details={"role": user.role.value})

    def unit(tx: Tx) -> None:
        tx.sessions.open(sid, user, SESSION_DAYS * 86400)
        tx.audit.add(said)

    await store.write(unit)
    session = await new_session(request)  # a fresh session id: no fixation
    session["user"] = user.name
    session["role"] = user.role.value
    session["sid"] = sid
    session["csrf"] = secrets.token_urlsafe(32)
    log.info("dashboard login", extra={"user": user.name, "role": user.role.value})
    return True


async def _who(request: web.Request, name: str, password: str) -> SessionUser | None:
    """The named user these credentials are, or, while there is none, the configured login
    (dashboard.username / dashboard.password) as the one admin."""
    settings = request.app[appkeys.SETTINGS].dashboard
    named, stored = await request.app[appkeys.STORE].read(
        lambda tx: (tx.users.count(), tx.users.get(name))
    )
    if not named:
        name_ok = hmac.compare_digest(name.encode(), settings.username.encode())
        expected = settings.password.get_secret_value().encode()
        password_ok = hmac.compare_digest(password.encode(), expected)
        return SessionUser(settings.username, Role.ADMIN) if name_ok and password_ok else None
    # scrypt takes ~0.1 s of CPU: off the event loop. An unknown name costs the same time.
    hashed = stored.password_hash if stored is not None else NOBODY
    if await asyncio.to_thread(password_matches, password, hashed) and stored is not None:
        return SessionUser(stored.name, stored.role)
    return None
