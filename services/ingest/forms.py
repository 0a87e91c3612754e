"""Form bodies (urlencoded, multipart) read as text in the charset their page posted in."""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_to_bytes

from aiohttp import BodyPartReader, MultipartReader, web

from common.errors import BadRequest
from common.model import JsonObject
from common.web import in_body_time

# A form posts in its page's charset (HTML's form submission algorithm). Old Russian sites are
# in windows-1251 and most do not name it: text that is not UTF-8 is read as that.
LEGACY_CHARSET = "windows-1251"
# HTML sends the form's charset in a field of this name when the form has one (RFC 7578 4.6,
# HTML's "URL-encoded form data"): its value is an ASCII name, found before any decoding.
CHARSET_FIELD = "_charset_"
# Python's cp1251 leaves byte 0x98 unmapped; the Encoding Standard's index-windows-1251 (what
# browsers decode with) maps it, pointer 24, to U+0098. Decoding windows-1251 with this error
# handler reads a form as a browser would; every other byte the two tables map alike.
WINDOWS_1251_ERRORS = "leadrelay-windows-1251"
# Python's own "text encodings" (the codecs module's "Python Specific Encodings") decode
# bytes but are no charset: punycode and idna decode labels, the escapes decode Python's
# backslash syntax, and some raise UnicodeError where a charset raises UnicodeDecodeError.
NOT_CHARSETS = frozenset(
    [
        "idna",
        "mbcs",
        "oem",
        "palmos",
        "punycode",
        "raw-unicode-escape",
        "undefined",
        "unicode-escape",
    ]
)


def _browsers_0x98(error: UnicodeError) -> tuple[str, int]:
    if isinstance(error, UnicodeDecodeError) and error.object[error.start : error.end] == b"\x98":
        return "\x98", error.end
    raise error


codecs.register_error(WINDOWS_1251_ERRORS, _browsers_0x98)


def errors_for(charset: str) -> str:
    """The decoding error handler for `charset` (a known one): strict, but for windows-1251
    read as browsers read it."""
    return WINDOWS_1251_ERRORS if codecs.lookup(charset).name == "cp1251" else "strict"


def declared_charset(fields: Iterable[tuple[str, bytes]], request: web.Request) -> str:
    """The charset a form declares for its text ("" if none): its last `_charset_` field's,
    else the request Content-Type's. Multipart and urlencoded forms alike; a multipart part's
    own charset comes before it (form_charset's `named`)."""
    given = [value for name, value in fields if name == CHARSET_FIELD]
    return given[-1].decode("ascii", "replace").strip() if given else request.charset or ""


def form_charset(named: str | None, raw: bytes) -> str:
    """The charset a form's text is read in: the one its sender named (an unknown one is a
    BadRequest naming it), else UTF-8 if `raw` is UTF-8, else LEGACY_CHARSET."""
    if named:
        try:
            b"a".decode(named, "ignore")  # also refuses bytes-to-bytes codecs such as base64
        except (LookupError, ValueError) as error:
            raise BadRequest(f"the form's charset {named[:40]!r} is unknown") from error
        if codecs.lookup(named).name in NOT_CHARSETS:
            raise BadRequest(f"the form's charset {named!r} is not a charset")
        return named
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return LEGACY_CHARSET
    return "utf-8"


async def urlencoded(request: web.Request) -> JsonObject:
    """name=value pairs in form_charset of the charset the form declares (whether
    percent-encoded, as browsers send them, or raw bytes); `_charset_` is not one of them."""
    raw = (await in_body_time(request, request.read())).rstrip()
    named = declared_charset(_charset_pairs(raw), request)
    charset = form_charset(named, b"" if named else unquote_to_bytes(raw))
    errors = errors_for(charset)
    try:
        pairs = parse_qsl(
            raw.decode(charset, errors), keep_blank_values=True, encoding=charset, errors=errors
        )
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"the form body cannot be read as {charset}: {error}") from error
    return {name: value for name, value in pairs if name != CHARSET_FIELD}


def _charset_pairs(raw: bytes) -> list[tuple[str, bytes]]:
    """The body's `_charset_` pairs, their values as bytes (latin-1 maps each byte to itself);
    none without parsing when the name is not in the body (a browser writes it as is)."""
    if CHARSET_FIELD.encode() not in raw:
        return []
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    return [(name, value.encode("latin-1")) for name, value in pairs if name == CHARSET_FIELD]


@dataclass
class Form:
    """A multipart form's text fields, and those whose bytes are not in their named charset
    (name: the text as far as it reads, and why it was left out)."""

    fields: JsonObject = field(default_factory=dict)
    unreadable: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass
class _Part:
    name: str
    raw: bytes
    charset: str  # the part's own, "" if it names none


async def multipart(request: web.Request) -> Form:
    """Each text part in form_charset of the first charset named: the part's own, the form's
    `_charset_` field, the request's. Files and other non-text parts are dropped."""
    try:
        parts = await in_body_time(request, _text_parts(request))
    # RuntimeError: aiohttp's word for a part's unknown Content-Transfer-Encoding.
    except (ValueError, AssertionError, RuntimeError) as error:
        raise BadRequest(f"the form body cannot be read: {error}") from error
    declared = declared_charset(((part.name, part.raw) for part in parts), request)
    form = Form()
    for part in parts:
        if part.name == CHARSET_FIELD:
            continue
        charset = form_charset(part.charset or declared, part.raw)
        try:  # the last part of a name wins, as the last pair of a name does in urlencoded
            form.fields[part.name] = part.raw.decode(charset, errors_for(charset))
            form.unreadable.pop(part.name, None)
        except UnicodeDecodeError:
            shown = part.raw.decode(charset, "replace")
            form.unreadable[part.name] = (shown, f"not readable as {charset}")
            form.fields.pop(part.name, None)
    return form


async def _text_parts(request: web.Request) -> list[_Part]:
    """The text parts' bytes (Content-Transfer-Encoding undone), within the body limit."""
    reader = FormReader(request.headers, request.content)
    parts = []
    while (part := await reader.next()) is not None:
        _within_limit(request)
        if not isinstance(part, BodyPartReader):
            raise ValueError("a nested multipart body is not a form field")
        if part.name is None:
            raise ValueError("a part has no name")
        raw = bytearray()
        while chunk := await part.read_chunk():
            _within_limit(request)
            raw.extend(chunk)
        kind = part.headers.get("Content-Type")
        if not part.filename and (kind is None or kind.lower().startswith("text/")):
            parts.append(_Part(part.name, part.decode(bytes(raw)), part.get_charset("")))
    return parts


def _within_limit(request: web.Request) -> None:
    """A 413 once the body received passes the limit: every byte of it, boundaries and part
    headers too (counting the parts' contents alone let empty parts stream without end)."""
    received = request.content.total_bytes
    if 0 < request.client_max_size < received:
        raise web.HTTPRequestEntityTooLarge(max_size=request.client_max_size, actual_size=received)


class FormReader(MultipartReader):
    """aiohttp's multipart reader, but a first `_charset_` part is returned as any other part
    (multipart() applies it, wherever it is in the form). aiohttp 3.13 reads that part itself
    and then skips no boundary after it, so every such form fails with "Invalid HTTP header"
    (aio-libs/aiohttp pull request 13640, open). Drop this class once a release has the fix."""

    async def next(self) -> MultipartReader | BodyPartReader | None:
        if self._at_eof:
            return None
        await self._maybe_release_last_part()
        if self._at_bof:
            await self._read_until_first_boundary()
            self._at_bof = False
        else:
            await self._read_boundary()
        if self._at_eof:
            return None
        self._last_part = await self.fetch_next_part()
        return self._last_part
