"""A problem reported with a recheck leaves /healthz's list once the check finds it gone, but
not when it was reported again while the check ran, nor when the check itself fails."""

from __future__ import annotations

import asyncio

from common.health import Health

ABOUT = "unmatched:amo"


async def test_a_problem_whose_recheck_finds_it_gone_is_cleared_and_listeners_hear_it():
    health, heard, state = Health(), [], {"full": True}
    health.listeners.append(lambda about, problem: heard.append((about, problem)))

    async def still_full() -> bool:
        return state["full"]

    health.report(ABOUT, "full", still_full)
    health.report("other", "no recheck")
    assert await health.rechecked() == ["full", "no recheck"]
    state["full"] = False
    assert await health.rechecked() == ["no recheck"]
    assert heard[-1] == (ABOUT, None)


async def test_a_report_made_while_its_recheck_ran_stays():
    health, asked, answer = Health(), asyncio.Event(), asyncio.Event()

    async def gone_by_an_older_read() -> bool:
        asked.set()
        await answer.wait()
        return False

    async def still_full() -> bool:
        return True

    health.report(ABOUT, "full", gone_by_an_older_read)
    checking = asyncio.create_task(health.rechecked())
    await asyncio.wait_for(asked.wait(), 5)
    health.report(ABOUT, None)  # a payment kept...
    health.report(ABOUT, "full again", still_full)  # ...and the next one deferred
    answer.set()
    assert await asyncio.wait_for(checking, 5) == ["full again"]
    assert await health.rechecked() == ["full again"]


async def test_a_failing_recheck_leaves_its_problem():
    health = Health()

    async def broken() -> bool:
        raise OSError("database unreachable")

    health.report(ABOUT, "full", broken)
    assert await health.rechecked() == ["full"]
    health.report(ABOUT, None)  # a plain clear drops the recheck with the problem
    assert await health.rechecked() == []
