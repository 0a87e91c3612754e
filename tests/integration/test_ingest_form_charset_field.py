"""A urlencoded form's `_charset_` field names its charset as multipart's does, and
windows-1251 is read as browsers read it, byte 0x98 included, in both kinds of form."""

from urllib.parse import quote

import pytest

from tests.helpers import rows, snapshot
from tests.integration.test_ingest_multipart_charsets import multipart
from tests.integration.test_ingest_multipart_charsets import post as post_multipart

URLENCODED = "application/x-www-form-urlencoded"
PHONE = "phone=%2B79161234567"


async def post_form(ingest, body: bytes, charset: str = ""):
    kind = URLENCODED + (f"; charset={charset}" if charset else "")
    return await ingest.post("/api/v1/leads", data=body, headers={"Content-Type": kind})


async def the_lead(resp, db_path) -> dict:
    assert resp.status == 200, await resp.text()
    [lead] = rows(db_path, "SELECT name, comment, extra FROM leads")
    return lead


def koi8(text: str) -> str:
    return quote(text, encoding="koi8-r")


@pytest.mark.parametrize(
    "body",
    [
        # koi8-r bytes also decode as windows-1251 (to other letters): only `_charset_` tells.
        pytest.param(f"_charset_=koi8-r&name={koi8('Ольга')}&{PHONE}", id="first"),
        pytest.param(f"name={koi8('Ольга')}&{PHONE}&_charset_=KOI8-R", id="last"),
        pytest.param(f"_charset_=utf-8&name={koi8('Ольга')}&_charset_=koi8-r&{PHONE}", id="twice"),
    ],
)
async def test_a_charset_field_names_the_forms_charset_and_is_not_lead_data(ingest, db_path, body):
    lead = await the_lead(await post_form(ingest, body.encode()), db_path)
    assert (lead["name"], lead["extra"]) == ("Ольга", "{}")


async def test_raw_bytes_are_read_in_the_charset_field_s_charset(ingest, db_path):
    body = "_charset_=koi8-r&name=Ольга&".encode("koi8-r") + PHONE.encode()
    lead = await the_lead(await post_form(ingest, body), db_path)
    assert lead["name"] == "Ольга"


async def test_the_charset_field_comes_before_the_request_s_as_in_multipart(ingest, db_path):
    body = f"_charset_=koi8-r&name={koi8('Ольга')}&{PHONE}".encode()
    lead = await the_lead(await post_form(ingest, body, charset="windows-1251"), db_path)
    assert lead["name"] == "Ольга"
    parts = multipart(
        ("_charset_", b"koi8-r", None),
        ("name", "Ольга".encode("koi8-r"), None),
        ("phone", b"+79161234568", None),
    )
    resp = await post_multipart(ingest, parts, charset="windows-1251")
    assert resp.status == 200, await resp.text()
    assert [row["name"] for row in rows(db_path, "SELECT name FROM leads")] == ["Ольга"] * 2


async def test_an_unknown_charset_field_is_a_clear_400_writing_nothing(ingest, db_path):
    await ingest.get("/healthz")
    before = snapshot(db_path)
    resp = await post_form(ingest, f"_charset_=x-unheard-of&name=a&{PHONE}".encode())
    assert resp.status == 400, await resp.text()
    assert "x-unheard-of" in (await resp.json())["message"]
    assert snapshot(db_path) == before


# Python decodes with these, but no browser does (they are no label of the Encoding
# Standard): punycode read a multipart part into a 500 (its UnicodeError is no
# UnicodeDecodeError), the escapes read "\u0418" as "И", utf-7 "+ADw-" as "<".
@pytest.mark.parametrize(
    "charset", ["punycode", "unicode_escape", "raw-unicode-escape", "palmos", "utf-7", "base64"]
)
async def test_a_python_only_codec_is_a_400_in_every_place_a_charset_is_named(
    ingest, db_path, charset
):
    await ingest.get("/healthz")
    before = snapshot(db_path)
    text = b"name=abc-9%5Cu0418&" + PHONE.encode()
    urlencoded = [
        await post_form(ingest, f"_charset_={charset}&".encode() + text),
        await post_form(ingest, text, charset=charset),
    ]
    phone = ("phone", b"+79161234567", None)
    forms = [
        multipart(("_charset_", charset.encode(), None), ("name", b"abc-9", None), phone),
        multipart(("name", b"abc-9", f"text/plain; charset={charset}"), phone),
    ]
    for resp in urlencoded + [await post_multipart(ingest, form) for form in forms]:
        assert resp.status == 400, await resp.text()
        assert f"{charset!r} is not one browsers read" in (await resp.json())["message"]
    assert snapshot(db_path) == before


# Byte 0x98 is U+0098 in the Encoding Standard's index-windows-1251 (pointer 24); Python's
# cp1251 has no mapping for it. Around it, letters of both tables.
WITH_0x98 = "Звоните".encode("cp1251") + b"\x98" + " после 18:00".encode("cp1251")
READ = "Звоните\x98 после 18:00"


@pytest.mark.parametrize(
    ("body", "charset"),
    [
        pytest.param(f"comment={quote(WITH_0x98)}&{PHONE}".encode(), "", id="percent-encoded"),
        pytest.param(b"comment=" + WITH_0x98 + b"&" + PHONE.encode(), "", id="raw-bytes"),
        pytest.param(f"comment={quote(WITH_0x98)}&{PHONE}".encode(), "cp1251", id="named"),
        pytest.param(
            f"_charset_=windows-1251&comment={quote(WITH_0x98)}&{PHONE}".encode(),
            "",
            id="charset-field",
        ),
    ],
)
async def test_byte_0x98_in_a_windows_1251_form_is_read_as_browsers_read_it(
    ingest, db_path, body, charset
):
    lead = await the_lead(await post_form(ingest, body, charset), db_path)
    assert lead["comment"] == READ


@pytest.mark.parametrize("charset", ["", "windows-1251"])
async def test_byte_0x98_in_a_windows_1251_multipart_part_is_read_too(ingest, db_path, charset):
    body = multipart(("comment", WITH_0x98, None), ("phone", b"+79161234567", None))
    resp = await post_multipart(ingest, body, charset)
    lead = await the_lead(resp, db_path)
    assert lead["comment"] == READ
    assert (await resp.json()).get("warnings", []) == []


async def test_other_charsets_stay_strict(ingest, db_path):
    # cp1253 and the Encoding Standard's index-windows-1253 both leave 0xAA unmapped: a 400.
    resp = await post_form(ingest, f"comment=%AA&{PHONE}".encode(), charset="windows-1253")
    assert resp.status == 400, await resp.text()
    assert "1253" in (await resp.json())["message"]


@pytest.mark.parametrize("label", ["latin1", "ISO-8859-1", "windows-1252", "us-ascii"])
async def test_a_latin_label_is_read_as_windows_1252_as_browsers_read_it(ingest, db_path, label):
    """The Encoding Standard reads every one of these labels as windows-1252: 0x80 is "€"
    (Latin-1 would make it a control), and 0x81, which Python's cp1252 leaves unmapped, is
    U+0081 (index-windows-1252)."""
    resp = await post_form(ingest, f"comment=5%80%81&{PHONE}".encode(), charset=label)
    assert (await the_lead(resp, db_path))["comment"] == "5€\x81"


@pytest.mark.parametrize("label", ["iso-2022-kr", "hz-gb-2312", "replacement"])
async def test_a_label_browsers_read_as_unreadable_is_a_400(ingest, db_path, label):
    """The Encoding Standard's "replacement" labels: a browser shows their text as one U+FFFD."""
    before = snapshot(db_path)
    resp = await post_form(ingest, f"name=abc&{PHONE}".encode(), charset=label)
    assert resp.status == 400, await resp.text()
    assert "is not one browsers read" in (await resp.json())["message"]
    assert snapshot(db_path) == before
