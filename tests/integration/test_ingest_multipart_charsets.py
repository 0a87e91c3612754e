"""Multipart form parts are read in their charset: the part's, the form's `_charset_`, the
request's, else UTF-8, else windows-1251 (as urlencoded forms are)."""

import pytest

from tests.helpers import rows, snapshot

PHONE = ("phone", b"+79161234567", None)
NAME = "Иван Петров"
COMMENT = "Перезвоните после 18:00"


def multipart(*parts: tuple[str, bytes, str | None], filename: str = "") -> bytes:
    """A multipart/form-data body with boundary "b", built by hand so each part's bytes and
    headers are exactly those given (a browser sends no Content-Type on a text part)."""
    body = b""
    for name, value, kind in parts:
        body += f'--b\r\nContent-Disposition: form-data; name="{name}"'.encode()
        if filename and name == "file":
            body += f'; filename="{filename}"'.encode()
        body += b"\r\n"
        if kind:
            body += f"Content-Type: {kind}\r\n".encode()
        body += b"\r\n" + value + b"\r\n"
    return body + b"--b--\r\n"


async def post(ingest, body: bytes, charset: str = ""):
    kind = "multipart/form-data; boundary=b" + (f"; charset={charset}" if charset else "")
    return await ingest.post("/api/v1/leads", data=body, headers={"Content-Type": kind})


async def lead_of(resp, db_path) -> dict:
    assert resp.status == 200, await resp.text()
    [lead] = rows(db_path, "SELECT name, phone, comment, extra FROM leads")
    return lead


CP1251 = [
    pytest.param([], "", id="no-charset-anywhere"),
    pytest.param([("_charset_", b"windows-1251", None)], "", id="_charset_-first"),
    pytest.param([], "windows-1251", id="request-charset"),
]


@pytest.mark.parametrize(("before", "charset"), CP1251)
async def test_windows_1251_parts_are_read_right(ingest, db_path, before, charset):
    body = multipart(
        *before,
        ("name", NAME.encode("cp1251"), None),
        PHONE,
        ("comment", COMMENT.encode("cp1251"), None),
    )
    lead = await lead_of(await post(ingest, body, charset), db_path)
    assert (lead["name"], lead["phone"], lead["comment"]) == (NAME, "+79161234567", COMMENT)
    assert lead["extra"] == "{}"  # `_charset_` is not lead data


async def test_a_charset_field_after_the_parts_still_names_their_charset(ingest, db_path):
    # koi8-r bytes also decode as windows-1251 (to other letters): only `_charset_` tells.
    body = multipart(
        ("name", "Ольга".encode("koi8-r"), None), PHONE, ("_charset_", b"koi8-r", None)
    )
    lead = await lead_of(await post(ingest, body), db_path)
    assert (lead["name"], lead["extra"]) == ("Ольга", "{}")


async def test_a_parts_own_charset_wins_over_the_forms(ingest, db_path):
    body = multipart(
        ("_charset_", b"windows-1251", None),
        ("name", "Ольга".encode("koi8-r"), "text/plain; charset=koi8-r"),
        PHONE,
        ("comment", COMMENT.encode("cp1251"), None),
    )
    lead = await lead_of(await post(ingest, body, "utf-8"), db_path)
    assert (lead["name"], lead["comment"]) == ("Ольга", COMMENT)


async def test_each_part_is_read_in_its_own_charset(ingest, db_path):
    body = multipart(
        ("name", NAME.encode(), None), PHONE, ("comment", COMMENT.encode("cp1251"), None)
    )
    lead = await lead_of(await post(ingest, body), db_path)
    assert (lead["name"], lead["comment"]) == (NAME, COMMENT)


async def test_utf_8_parts_are_read_as_before(ingest, db_path):
    body = multipart(("name", NAME.encode(), None), PHONE, ("comment", "☎ ok".encode(), None))
    lead = await lead_of(await post(ingest, body), db_path)
    assert (lead["name"], lead["comment"]) == (NAME, "☎ ok")


async def test_files_are_still_dropped(ingest, db_path):
    body = multipart(
        ("name", NAME.encode("cp1251"), None),
        PHONE,
        ("file", b"%PDF-1.4 \xff\xfe", "application/pdf"),
        filename="резюме.pdf",
    )
    lead = await lead_of(await post(ingest, body), db_path)
    assert (lead["name"], lead["extra"]) == (NAME, "{}")


@pytest.mark.parametrize(
    ("parts", "charset", "named"),
    [
        pytest.param(
            [("name", b"x", "text/plain; charset=no-such-charset")],
            "",
            "no-such-charset",
            id="part",
        ),
        pytest.param([("_charset_", b"x-unheard-of", None)], "", "x-unheard-of", id="_charset_"),
        pytest.param([("name", b"x", None)], "no-such-charset", "no-such-charset", id="request"),
        pytest.param([("name", b"x", "text/plain; charset=base64")], "", "base64", id="not-text"),
    ],
)
async def test_an_unknown_charset_is_a_clear_400_writing_nothing(
    ingest, db_path, parts, charset, named
):
    await ingest.get("/healthz")
    before = snapshot(db_path)
    resp = await post(ingest, multipart(*parts, PHONE), charset)
    assert resp.status == 400, await resp.text()
    assert named in (await resp.json())["message"]
    assert rows(db_path, "SELECT count(*) AS n FROM leads")[0]["n"] == 0
    assert snapshot(db_path) == before


async def test_a_part_not_in_its_named_charset_is_left_out_with_a_warning(ingest, db_path):
    # The comment says UTF-8 but is windows-1251: the lead keeps its usable phone.
    body = multipart(PHONE, ("comment", COMMENT.encode("cp1251"), "text/plain; charset=utf-8"))
    resp = await post(ingest, body)
    lead = await lead_of(resp, db_path)
    assert lead["comment"] is None
    [warning] = (await resp.json())["warnings"]
    assert warning["field"] == "comment" and "utf-8" in warning["reason"]


async def test_a_phone_not_in_its_named_charset_refuses_the_lead_naming_it(ingest, db_path):
    body = multipart(
        ("phone", "+7916 123 45 67 Иван".encode("cp1251"), "text/plain; charset=utf-8")
    )
    resp = await post(ingest, body)
    assert resp.status == 422, await resp.text()
    assert "phone" in (await resp.json())["message"]
    assert rows(db_path, "SELECT count(*) AS n FROM leads")[0]["n"] == 0


async def test_a_multipart_form_over_the_limit_is_still_a_413(ingest, db_path):
    body = multipart(PHONE, ("comment", "я".encode("cp1251") * 70_000, None))
    resp = await post(ingest, body)
    assert resp.status == 413, await resp.text()
    assert rows(db_path, "SELECT count(*) AS n FROM leads")[0]["n"] == 0


async def test_a_multipart_form_of_many_empty_parts_over_the_limit_is_a_413(ingest, db_path):
    """Part headers and boundaries count towards the 64 KiB too: empty parts were read without
    end (a 300 MB form of them was a lead, and grew the process by as much)."""
    empty = ("n" * 1000, b"", None)
    resp = await post(ingest, multipart(PHONE, *[empty] * 100))
    assert resp.status == 413, await resp.text()
    assert (await resp.json())["error"] == "too_large"
    assert rows(db_path, "SELECT count(*) AS n FROM leads")[0]["n"] == 0
