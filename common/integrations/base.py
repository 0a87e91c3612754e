"""What every integration shares: the CrmIntegration interface and failure classification."""

from __future__ import annotations

import contextlib
import hmac
from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

import aiohttp
import orjson
from aiolimiter import AsyncLimiter
from multidict import CIMultiDict, CIMultiDictProxy

from common import clock
from common.charsets import text_codec
from common.errors import BadRequest
from common.model import Delivered, Lead, Notice
from common.reconciling import Page, Recheck, Window

ERROR_TEXT_LIMIT = 500
# The most of an answer read into memory. The largest we ask for are Metrica's list of a
# counter's uploads (10,000 by default, a few MB) and a Direct report; a CRM's answer is
# kilobytes. A server that sends more (50 MB of junk, or without end) has its answer
# dropped unread past this, as if the connection broke: otherwise every slot could hold
# such a body at once.
ANSWER_LIMIT = 16 * 1024 * 1024


class DeliveryFailure(Exception):
    """A call did not succeed; `temporary` says whether trying again may help."""

    temporary = True

    def __init__(self, message: str, retry_after: float | None = None):
        # U+0000 from an answer (raw, or a JSON "\u0000"): PostgreSQL refuses it in text,
        # and the failure could not be recorded at all.
        message = message.replace("\x00", "\ufffd")
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class TemporaryFailure(DeliveryFailure):
    """Network error, timeout, 429, 5xx, a CRM's own 'too many requests': retry later."""


class TimedOut(TemporaryFailure):
    """No whole answer within the time limit: the server may hold every call that long."""


class AuthFailure(TemporaryFailure):
    """The CRM refused our credentials (401/403, a refused refresh): kept for retry, and shown
    at once, since only a person can fix it."""


class PermanentFailure(DeliveryFailure):
    """The request itself is wrong (validation, unknown field): retrying cannot help."""

    temporary = False


@dataclass(frozen=True)
class Reply:
    """An answer: its status, its text, and its headers, looked up whatever their case
    (RFC 9110 §5.1: field names are case-insensitive, and HTTP/2 and proxies send them in
    lower case). aiohttp's own CIMultiDictProxy is kept as it is; a copy into a dict kept
    the case sent, which aiohttp's pure-Python parser leaves as it came, so a `retry-after`
    or a `location` was missed there."""

    status: int
    text: str
    headers: Mapping[str, str]

    def __post_init__(self) -> None:
        if not isinstance(self.headers, CIMultiDictProxy | CIMultiDict):
            object.__setattr__(self, "headers", CIMultiDict(self.headers))

    def json(self) -> Any:
        try:
            return orjson.loads(self.text)
        except orjson.JSONDecodeError:
            return None

    def retry_after(self) -> float | None:
        """Seconds from Retry-After, given as seconds or as an HTTP date."""
        value = self.headers.get("Retry-After", "").strip()
        if not value:
            return None
        if value.isascii() and value.isdigit():  # "²" is a digit to str.isdigit, not to float
            return float(value)
        try:
            return max(0.0, (parsedate_to_datetime(value) - clock.now()).total_seconds())
        except (TypeError, ValueError):
            return None

    def excerpt(self) -> str:
        # From the start only: splitting a 16 MB error page whole would hold it many times.
        return " ".join(self.text[: ERROR_TEXT_LIMIT * 8].split())[:ERROR_TEXT_LIMIT]


def classify_http(reply: Reply, service: str) -> None:
    """Raise the failure an unsuccessful HTTP status means; return on 2xx."""
    if 200 <= reply.status < 300:
        return
    message = f"{service} answered HTTP {reply.status}: {reply.excerpt()}"
    if reply.status in (401, 403):
        # Credentials get fixed by a person; the lead itself is fine, so keep it queued.
        raise AuthFailure(message, reply.retry_after())
    if reply.status in (408, 425, 429) or reply.status >= 500:
        raise TemporaryFailure(message, reply.retry_after())
    raise PermanentFailure(message)


async def request(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    service: str,
    **kwargs: Any,
) -> Reply:
    """Send one request; network errors and timeouts become TemporaryFailure.

    Redirects are never followed: aiohttp would re-send a POST to a 301/302/303 as a GET
    without its body, and the 200 at the end would look like a delivery. A 3xx is a
    failure naming where it pointed, kept for retry while a person fixes the address
    (the Standard Webhooks spec counts 3xx as failed deliveries, too).
    """
    try:
        async with http.request(method, url, allow_redirects=False, **kwargs) as resp:
            text = _text(resp, await _bounded(resp, service))
            if not 200 <= resp.status < 300:  # an error's text is shown and kept: see _scrub
                text = _scrub(text, url, kwargs.get("headers"))
            reply = Reply(resp.status, text, resp.headers)  # aiohttp's, case-insensitive
    except TimeoutError as error:
        raise TimedOut(f"{service} did not answer in time") from error
    except aiohttp.ClientError as error:
        raise TemporaryFailure(f"{service} unreachable: {error.__class__.__name__}") from error
    if 300 <= reply.status < 400:
        where = _where(reply.headers.get("Location"), url)
        raise TemporaryFailure(
            f"{service} answered HTTP {reply.status} redirecting to {where}: redirects are not"
            " followed; correct the address in the configuration"
        )
    return reply


def _where(location: str | None, sent: str) -> str:
    """Where a 3xx points, as far as it may be shown: its origin, and whether its path is
    the one asked. Not the path or query themselves: a Bitrix24 webhook's path carries its
    secret code, and a renamed portal redirects to the same path on its new name."""
    if location is None:
        return "(no Location header)"
    try:
        target = urlsplit(urljoin(sent, location.strip()))
        host, port = target.hostname, target.port
    except ValueError:
        return "an address that is not a URL"
    if target.scheme not in ("http", "https") or not host:
        return "an address that is not a URL"
    same = "the same path" if target.path == urlsplit(sent).path else "another path"
    host = f"[{host}]" if ":" in host else host
    return f"{target.scheme}://{host}{'' if port is None else f':{port}'} ({same})"


SCRUBBED = "***"


def _scrub(text: str, url: str, headers: Mapping[str, str] | None) -> str:
    """An error answer's text without what we sent that is secret: a web server's error
    page names the path asked for (a Bitrix24 inbound webhook's holds its code), and a
    server may echo the Authorization header (a bearer token)."""
    sent = urlsplit(url)
    secrets = [sent.path, sent.query, unquote(sent.path)]
    authorization = (headers or {}).get("Authorization", "")
    secrets += [authorization, authorization.partition(" ")[2]]
    for secret in sorted((s for s in secrets if len(s) >= 8), key=len, reverse=True):
        text = text.replace(secret, SCRUBBED)
    return text


async def _bounded(resp: aiohttp.ClientResponse, service: str) -> bytes:
    """The answer's body, read up to ANSWER_LIMIT bytes; TemporaryFailure past it."""
    length = resp.content_length
    if length is not None and length > ANSWER_LIMIT:
        resp.close()
        raise _too_large(resp, service)
    if length is not None and "Content-Encoding" not in resp.headers:
        return await resp.read()  # no more than it said: aiohttp's own one read
    body = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > ANSWER_LIMIT:
            resp.close()  # the rest stays unread: the connection is not reused
            raise _too_large(resp, service)
    return bytes(body)


def _too_large(resp: aiohttp.ClientResponse, service: str) -> TemporaryFailure:
    return TemporaryFailure(
        f"{service} answered HTTP {resp.status} with more than {ANSWER_LIMIT} bytes;"
        " the answer was not read"
    )


def _text(resp: aiohttp.ClientResponse, body: bytes) -> str:
    """The answer as text. JSON is UTF-8 whatever charset its Content-Type names (RFC 8259
    §8.1 and §11: "no charset parameter is defined", and a recipient ignores one; a byte
    order mark may be ignored too), so a UTF-8 body is read as such under a wrong label;
    a body that is not UTF-8 is read in the charset named, as a browser reads the label
    (common/charsets.py: never one of Python's codecs that are no text encoding)."""
    json = resp.content_type == "application/json" or resp.content_type.endswith("+json")
    named = text_codec(resp.charset) if resp.charset and not json else None
    if named is None:  # JSON, or no charset a browser would read: UTF-8 first
        with contextlib.suppress(UnicodeDecodeError):
            return body.decode("utf-8-sig" if json else "utf-8")
        named = text_codec(resp.charset) if resp.charset else None
    return body.decode(named or "utf-8", errors="replace")


class Credentials(Protocol):
    """Where an integration gets the bearer token it sends (the store is not its to read)."""

    @property
    def renewable(self) -> bool:
        """Can a token the CRM refused be exchanged for a fresh one?"""

    async def bearer(self, http: aiohttp.ClientSession, refused: str | None = None) -> str:
        """The token to send; with `refused` (the one the CRM just answered 401 to), a newer
        one. Raises AuthFailure when there is none to give."""


class CrmIntegration(ABC):
    """One CRM connection: builds its requests and classifies its answers."""

    kind: str

    def __init__(self, name: str, rate_limit: float):
        self.name = name
        # Per process; on PostgreSQL ratelimit.share_limits puts a shared one here.
        self.limiter: AbstractAsyncContextManager[Any] = AsyncLimiter(rate_limit, 1.0)

    @abstractmethod
    async def send_lead(
        self, http: aiohttp.ClientSession, lead: Lead, retry: bool = False
    ) -> Delivered:
        """Deliver a lead; what the CRM said (its id for the lead, when it gives one).
        `retry`: an earlier attempt may have reached the CRM (its answer was lost), so a CRM
        that can find a lead by our id looks before adding it again."""

    @abstractmethod
    def authenticate(self, request: WebhookRequest) -> str | None:
        """Raise Unauthorized unless the webhook is really from this CRM; return a message id
        when the CRM gives one (for deduplication)."""

    @abstractmethod
    def parse_webhook(self, request: WebhookRequest) -> list[Notice]:
        """What the webhook says, validated; BadRequest or InvalidField otherwise."""

    def storable(self, request: WebhookRequest) -> bytes:
        """The body as it may be kept in webhook_receipts: without the CRM's secrets."""
        return request.body

    async def resolve_deal(self, http: aiohttp.ClientSession, deal_id: str) -> Notice:
        """What the deal a notice named only by its id (outcome "deal") says, read from the
        CRM; only a CRM whose webhooks name bare deals has any to read."""
        raise PermanentFailure(f"{self.kind} '{self.name}' sends no deal notices to resolve")

    @property
    def reconcile_every(self) -> float | None:
        """Seconds between looks for the closed deals its webhooks may not have brought;
        None when this CRM cannot be asked (or is not to be)."""
        return None

    async def closed_page(self, http: aiohttp.ClientSession, window: Window) -> Page:
        """One page of the deals changed within the window, from its place on, as the CRM
        lists them, and the place the next page starts; asked only when `reconcile_every`
        is set. The order must not depend on a time an edit changes, so that an edit
        between two pages cannot shift what is still to be read."""
        raise NotImplementedError(f"{self.kind} cannot list closed deals")

    async def webhook_problem(self, http: aiohttp.ClientSession) -> str | None:
        """What is wrong with this CRM's webhook to us (switched off, say), as the CRM tells
        it; None when nothing is, or the CRM cannot say."""
        return None

    rechecks_payments = False  # can it list its records by id (`payments_now`)?

    def payment_ref(self, lead: Lead) -> str | None:
        """The id `payments_now` asks this CRM about for a paid lead (its lead, or the deal
        that paid it); None when it has none to ask about."""
        return None

    async def payments_now(self, http: aiohttp.ClientSession, refs: list[str]) -> Recheck:
        """What the records of these ids (at most one page) say now, in one request: each as
        the notice a webhook would have carried, a record missing from the answer deleted."""
        raise NotImplementedError(f"{self.kind} cannot list records by id")

    def notice_of(self, item: dict[str, Any]) -> Notice:
        """A deal listed by `closed_page` as a webhook would have said it."""
        raise NotImplementedError(f"{self.kind} cannot list closed deals")

    def deal_link(self, crm_ref: str) -> str | None:
        """Where a person opens a lead of this CRM (`deal:<id>` for a deal) in its own pages;
        None when it has no such page."""
        return None

    async def call(
        self, http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
    ) -> Reply:
        """A request under this connection's rate limit."""
        async with self.limiter:
            return await request(http, method, url, f"{self.kind} '{self.name}'", **kwargs)


@dataclass(frozen=True)
class WebhookRequest:
    """What a webhook handler needs of an incoming request."""

    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        """The body as application/x-www-form-urlencoded fields."""
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadRequest("the body is not UTF-8") from error
        return dict(parse_qsl(text, keep_blank_values=True))


def is_crm_id(value: str) -> bool:
    """A CRM's record id (or index) as amoCRM and Bitrix24 write them: ASCII digits that fit
    in 64 bits. str.isdigit alone takes "²" and "٣", and int() refuses 4,300 digits."""
    return value.isascii() and value.isdigit() and len(value) <= 18


def same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
