"""Form bodies (urlencoded, multipart) read as text in the charset their page posted in."""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_to_bytes

from aiohttp import BodyPartReader, MultipartReader, web

from common.charsets import text_codec
from common.errors import BadRequest
from common.model import JsonObject
from common.web import in_body_time

# A form posts in its page's charset (HTML's form submission algorithm). Old Russian sites are
# in windows-1251 and most do not name it: text that is not UTF-8 is read as that.
LEGACY_CHARSET = "windows-1251"
# HTML sends the form's charset in a field of this name when the form has one (RFC 7578 4.6,
# HTML's "URL-encoded form data"): its value is an ASCII name, found before any decoding.
CHARSET_FIELD = "_charset_"
# The Windows code pages as browsers read them (the Encoding Standard's index-windows-125x):
# a byte 0x80-0x9F that Python's cp125x leaves unmapped (0x98 in windows-1251; 0x81, 0x8D,
# 0x8F, 0x90, 0x9D in windows-1252) is the C1 control of the same value there. Decoding with
# this error handler reads such a form as a browser would; every other byte the tables map
# alike, and a byte neither maps stays an error.
WINDOWS_ERRORS = "leadrelay-windows-c1"
WINDOWS_CODECS = frozenset(f"cp125{n}" for n in range(9))


def _browsers_c1(error: UnicodeError) -> tuple[str, int]:
    if isinstance(error, UnicodeDecodeError) and error.end - error.start == 1:
        byte = error.object[error.start]
        if 0x80 <= byte <= 0x9F:
            return chr(byte), error.end
    raise error


codecs.register_error(WINDOWS_ERRORS, _browsers_c1)


def errors_for(charset: str) -> str:
    """The decoding error handler for `charset` (a Python codec's name): strict, but for the
    Windows code pages read as browsers read them."""
    return WINDOWS_ERRORS if codecs.lookup(charset).name in WINDOWS_CODECS else "strict"


def declared_charset(fields: Iterable[tuple[str, bytes]], request: web.Request) -> str:
    """The charset a form declares for its text ("" if none): its last `_charset_` field's,
    else the request Content-Type's. Multipart and urlencoded forms alike; a multipart part's
    own charset comes before it (form_charset's `named`)."""
    given = [value for name, value in fields if name == CHARSET_FIELD]
    return given[-1].decode("ascii", "replace").strip() if given else request.charset or ""


def form_charset(named: str | None, raw: bytes) -> str:
    """The Python codec a form's text is read in: of the charset its sender named, by the
    Encoding Standard's labels as a browser reads them ("latin1" is windows-1252 there), a
    name no browser knows a BadRequest naming it (Python's own codecs too: base64, punycode,
    utf-7, the unicode escapes); else UTF-8 if `raw` is UTF-8, else LEGACY_CHARSET."""
    if named:
        codec = text_codec(named)
        if codec is None:
            raise BadRequest(f"the form's charset {named[:40]!r} is not one browsers read")
        return codec
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
