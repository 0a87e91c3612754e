"""A full disk (a file-size limit on one process, as `prlimit --fsize` sets it) makes that
process say so on /healthz and answer 503 with Retry-After; once it lifts, work resumes
with nothing lost."""

import resource
from contextlib import contextmanager

import aiohttp

from tests.e2e.test_delivery import all_sent, post_leads
from tests.helpers import wait_for_async


@contextmanager
def file_size_limit(pid: int, limit: int):
    """Writes that would grow a file of that process past `limit` bytes fail (EFBIG)."""
    soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))


async def health(http: aiohttp.ClientSession, url: str) -> tuple[int, dict]:
    async with http.get(f"{url}/healthz") as resp:
        return resp.status, await resp.json()


async def test_a_dispatcher_that_cannot_write_says_so_then_recovers(system):
    system.config()
    await system.start("ingest", "dispatcher")
    await post_leads(system, 3)
    await all_sent(system, 3, timeout=20)
    dispatcher = system.services["dispatcher"]
    async with aiohttp.ClientSession() as http:
        with file_size_limit(dispatcher.proc.pid, 1):
            await post_leads(system, 3, first=3)  # ingest still writes; the dispatcher cannot claim

            async def unhealthy():
                status, body = await health(http, dispatcher.url)
                return status == 503 and body

            body = await wait_for_async(unhealthy, timeout=20)
            assert body["status"] == "unhealthy"
            assert any("task loop" in p or "database" in p for p in body["problems"]), body
            assert dispatcher.proc.poll() is None  # still running, not dead
        await all_sent(system, 6, timeout=30)  # the loop carried on once it could write

        async def healthy():
            return (await health(http, dispatcher.url))[0] == 200

        assert await wait_for_async(healthy, timeout=20)


async def test_ingest_on_a_full_disk_answers_503_with_retry_after(system):
    system.config()
    await system.start("ingest")
    ingest = system.services["ingest"]
    lead = {"name": "Ivan", "phone": "+79160000001", "campaign_id": "amo-campaign"}
    async with aiohttp.ClientSession() as http:
        with file_size_limit(ingest.proc.pid, 1):
            async with http.post(f"{ingest.url}/api/v1/leads", json=lead) as resp:
                assert resp.status == 503, await resp.text()
                assert resp.headers["Retry-After"] == "5"
                body = await resp.json()
            assert body["error"] == "database_unavailable"
            status, health_body = await health(http, ingest.url)
            assert status == 503 and "database" in health_body["problems"][0]
        async with http.post(f"{ingest.url}/api/v1/leads", json=lead) as resp:
            assert resp.status == 200, await resp.text()
        assert (await health(http, ingest.url))[0] == 200
