"""Slow and surplus connections cannot keep a landing page's lead out, nor a stop waiting."""

import asyncio
import json
import time

import aiohttp

from tests.helpers import wait_for_async

LEAD = {"name": "Ivan", "phone": "+79161234567", "campaign_id": "amo-campaign"}


async def open_slow(
    port: int, count: int
) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """Connections that send half a request head and then nothing (a slow-loris)."""
    conns = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /api/v1/leads HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        await writer.drain()
        conns.append((reader, writer))
    return conns


async def test_slow_heads_are_cut_and_surplus_connections_refused(system):
    system.config(ingest="header_timeout = 1\nmax_connections = 20")
    await system.start("ingest")
    ingest = system.services["ingest"]
    slow = await open_slow(ingest.port, 20)  # every slot taken
    # One more is over the limit: answered 503 and closed at once, not left to pile up.
    reader, writer = await asyncio.open_connection("127.0.0.1", ingest.port)
    head, body = (await asyncio.wait_for(reader.read(), 5)).split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in head
    assert "limit of 20 connections" in json.loads(body)["message"]
    writer.close()
    started = time.monotonic()
    for slow_reader, slow_writer in slow:  # each is cut after header_timeout: EOF, no answer
        assert await asyncio.wait_for(slow_reader.read(), 10) == b""
        slow_writer.close()
    assert time.monotonic() - started < 5
    async with aiohttp.ClientSession() as http:  # the landing page gets through again
        async with http.post(f"{ingest.url}/api/v1/leads", json=LEAD) as resp:
            assert resp.status == 200


async def test_a_trickling_body_gets_408_and_does_not_hold_the_stop(system):
    system.config(webhooks="body_timeout = 1\nshutdown_timeout = 2")
    await system.start("webhooks")
    webhooks = system.services["webhooks"]
    reader, writer = await asyncio.open_connection("127.0.0.1", webhooks.port)
    writer.write(
        b"POST /api/v1/webhooks/crm/shop HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 408")
    # And a stop does not wait on a client that keeps its connection open.
    slow = await open_slow(webhooks.port, 5)
    started = time.monotonic()
    assert webhooks.stop(timeout=20) == 0
    assert time.monotonic() - started < 8  # shutdown_timeout, not aiohttp's 60 s
    for _, w in slow:
        w.close()
    writer.close()


async def open_from(address: str, port: int, count: int, head: bytes, writers: list) -> list:
    """`count` connections from one loopback address, each sending `head` and then nothing;
    each task ends with what the server sent once it closes the connection."""
    reads = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))
        writer.write(head)
        writers.append(writer)
        reads.append(asyncio.create_task(reader.read()))
    return reads


SLOW_HEAD = b"POST /api/v1/leads HTTP/1.1\r\nX: "
SLOW_BODY = (
    b"POST /api/v1/leads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n{"
)


async def test_one_address_holding_hundreds_of_slow_connections_leaves_room_for_leads(system):
    # 300 slow connections from one address would take every one of 200 slots.
    system.config(
        ingest="header_timeout = 60\nbody_timeout = 60\nmax_connections = 200\n"
        "max_connections_per_address = 32"
    )
    await system.start("ingest")
    port = system.services["ingest"].port
    writers: list[asyncio.StreamWriter] = []
    attacker = [
        *await open_from("127.0.0.2", port, 150, SLOW_HEAD, writers),
        *await open_from("127.0.0.2", port, 150, SLOW_BODY, writers),
    ]

    def refusals() -> list[bytes]:
        return [read.result() for read in attacker if read.done()]

    # Every connection past the address's 32 is answered a 503 that says why, and closed.
    await wait_for_async(lambda: _true(len(refusals()) == len(attacker) - 32), timeout=30)
    head, body = refusals()[0].split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in head
    assert json.loads(body)["error"] == "too_many_connections"
    assert all(answer.startswith(b"HTTP/1.1 503") for answer in refusals())
    # The landing page's visitors, from other addresses, all get in.
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.3", 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        for n in range(60):
            lead = LEAD | {"phone": f"+7916123{n:04d}"}
            async with http.post(f"http://127.0.0.1:{port}/api/v1/leads", json=lead) as resp:
                assert resp.status == 200, await resp.text()
    assert len(refusals()) == len(attacker) - 32  # the attacker's 32 are still held
    # A trusted proxy (127.0.0.1 by default) carries every client: no per-address cap.
    proxied = await open_from("127.0.0.1", port, 40, SLOW_HEAD, writers)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"http://127.0.0.1:{port}/api/v1/leads", json=LEAD) as resp:
            assert resp.status == 200
    assert not any(read.done() for read in proxied)
    for read in attacker + proxied:
        read.cancel()
    for writer in writers:
        writer.close()


async def _true(value: bool) -> bool:
    return value
