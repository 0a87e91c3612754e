"""A schedule's loop: look, wait as long as the look says, again; a failed look is logged
and looked again at after a pause, so one bad moment never ends a schedule."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)
PAUSE_AFTER_ERROR = 60.0


async def keep_looking(look: Callable[[], Awaitable[float]], what: str) -> None:
    """Forever: `look()` answers the seconds to wait before the next look."""
    while True:
        try:
            wait = await look()
        except Exception:
            log.exception("%s failed to look; will look again", what)
            wait = PAUSE_AFTER_ERROR
        await asyncio.sleep(wait)  # the schedule itself, not a synchronisation
