"""Slow and surplus connections cannot keep a landing page's lead out, nor a stop waiting."""

import asyncio
import time

import aiohttp

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
    assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 503")
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
