"""The requests a red team found answering 500: each is now a 4xx that names the problem and
writes nothing (or, for a lead with a usable contact, an accepted lead)."""

import asyncio
import json

import pytest

from common.config import Settings
from common.signing import signed_headers
from services.webhooks.app import create_app as webhooks_app
from tests.helpers import SECRET, crm_connections, snapshot

LEAD = {"name": "Ivan", "phone": "+79161234567", "campaign_id": "c1"}


async def raw(client, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are (a client library would refuse or re-encode them)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(request)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    writer.close()
    return int(head.split(b" ", 2)[1]), head


def post(path: str, body: bytes, headers: bytes, content_type: bytes = b"application/json"):
    return (
        b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: " + content_type + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n" + headers + b"\r\n" + body
    )


@pytest.mark.parametrize(
    "header",
    [b"User-Agent: Mozilla/5.0 (caf\xe9)\r\n", b"Idempotency-Key: key-\xff\xfe\r\n"],
    ids=["latin-1 user agent", "non-utf-8 idempotency key"],
)
async def test_non_utf8_header_bytes_do_not_lose_the_lead(ingest, header, db_path):
    status, _ = await raw(ingest, post("/api/v1/leads", json.dumps(LEAD).encode(), header))
    if b"Idempotency" in header:
        assert status == 400  # a key must be text: refused, nothing written
        assert snapshot(db_path)["leads"] == []
    else:
        assert status == 200  # the visitor's lead is taken; the agent is kept readable
        assert len(snapshot(db_path)["leads"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 30_000 + b"]" * 30_000,  # within the 64 KiB a lead may have
        json.dumps(LEAD).encode()[:-1] + b', "extra": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
        json.dumps(LEAD).encode()[:-1] + b', "budget": ' + b"9" * 5000 + b"}",
    ],
    ids=["deep json", "deep json inside a field", "a 5000-digit integer"],
)
async def test_absurd_json_is_a_400(ingest, body, db_path):
    resp = await ingest.post(
        "/api/v1/leads", data=body, headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400, await resp.text()
    assert "JSON" in (await resp.json())["message"]
    assert snapshot(db_path)["leads"] == []


@pytest.mark.parametrize("url", ["http://[::1?utm_source=x", "http://[zz]/?yclid=1"])
async def test_a_broken_page_url_is_a_warning_not_a_500(ingest, url):
    resp = await ingest.post("/api/v1/leads", json=LEAD | {"page_url": url})
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert [w["field"] for w in answer["warnings"]] == ["page_url"]


async def test_a_malformed_multipart_part_header_is_a_400(ingest, db_path):
    body = (
        b'--b\r\nContent-Disposition: form-data; name="phone"\r\nbroken header line\r\n\r\n'
        b"+79161234567\r\n--b--\r\n"
    )
    status, _ = await raw(
        ingest, post("/api/v1/leads", body, b"", b"multipart/form-data; boundary=b")
    )
    assert status == 400
    assert snapshot(db_path)["leads"] == []


@pytest.fixture
async def hooks(aiohttp_client, db_path):
    return await aiohttp_client(webhooks_app(Settings(database=db_path, crm=crm_connections())))


async def test_a_unicode_digit_timestamp_is_a_401_before_anything(hooks, db_path):
    raw_body = json.dumps({"type": "payment", "crm_lead_id": "1", "amount": "1"}).encode()
    headers = signed_headers(SECRET, "m1", raw_body) | {"webhook-timestamp": "²"}
    resp = await hooks.post("/api/v1/webhooks/crm/shop", data=raw_body, headers=headers)
    assert resp.status == 401, await resp.text()
    assert "timestamp" in (await resp.json())["message"]


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 60_000 + b"]" * 60_000,
        b'{"type": "payment", "crm_lead_id": "1", "amount": ' + b"9" * 5000 + b"}",
        json.dumps(
            {
                "type": "payment",
                "crm_lead_id": "1",
                "amount": "10",
                "paid_at": "0001-01-01T00:00:00+14:00",
            }
        ).encode(),
    ],
    ids=["deep json", "huge integer", "paid_at before year 1"],
)
async def test_signed_but_absurd_payloads_are_4xx(hooks, payload, db_path):
    before = snapshot(db_path)
    headers = signed_headers(SECRET, "m2", payload) | {"Content-Type": "application/json"}
    resp = await hooks.post("/api/v1/webhooks/crm/shop", data=payload, headers=headers)
    assert 400 <= resp.status < 500, await resp.text()
    assert snapshot(db_path) == before


async def test_amocrm_unicode_digit_updated_at_is_not_a_time(hooks, db_path):
    """`²` is a digit to str.isdigit, not to int: the time is unknown, the payment kept."""
    form = "leads[status][0][id]=1&leads[status][0][status_id]=142&leads[status][0][updated_at]=²"
    resp = await hooks.post(
        "/api/v1/webhooks/crm/amo?token=hook-secret",
        data=form.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert answer["status"] == "unmatched"  # no lead has CRM id 1: kept for a person
    [kept] = snapshot(db_path)["unmatched_payments"]
    assert "²" not in str(kept)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
@pytest.mark.parametrize("path", ["/api/v1/leads", "/api/v1/webhooks/crm/amo?token=hook-secret"])
async def test_a_body_that_is_not_in_its_content_encoding_is_a_400(
    ingest, hooks, db_path, encoding, path
):
    client = ingest if path.startswith("/api/v1/leads") else hooks
    resp = await client.post(
        path,
        data=json.dumps(LEAD).encode(),  # claims to be compressed, is not
        headers={"Content-Type": "application/json", "Content-Encoding": encoding},
    )
    assert resp.status == 400
    assert f"content-encoding: {encoding}" in (await resp.json())["message"]
    assert snapshot(db_path)["leads"] == [] and snapshot(db_path)["webhook_receipts"] == []


async def test_a_multipart_part_in_an_unknown_transfer_encoding_is_a_400(ingest, db_path):
    body = (
        b'--b\r\nContent-Disposition: form-data; name="phone"\r\n'
        b"Content-Transfer-Encoding: x-unheard-of\r\n\r\n+79161234567\r\n--b--\r\n"
    )
    status, _ = await raw(
        ingest, post("/api/v1/leads", body, b"", b"multipart/form-data; boundary=b")
    )
    assert status == 400
    assert snapshot(db_path)["leads"] == []
