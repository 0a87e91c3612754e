"""A CRM's OAuth tokens for its integration: read from the store, refreshed by one process at
a time before they expire or when the CRM refuses them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiohttp

from common.integrations.base import AuthFailure, DeliveryFailure, TemporaryFailure
from common.integrations.registry import Exchange
from common.store import Store
from common.store.credentials import StoredTokens

log = logging.getLogger(__name__)

REFRESH_MARGIN = 600.0  # refresh when less than this many seconds remain (of amoCRM's 24 h)
CLAIM_SECONDS = 60.0  # a refresher that died mid-way holds the claim no longer than this
WAIT_STEP = 0.1  # how often a process waiting for another's refresh looks at the row


class StoredCredentials:
    """The `Credentials` an OAuth integration is given: one connection's row in the store."""

    renewable = True

    def __init__(self, store: Store, name: str, exchange: Exchange, command: str):
        self.store = store
        self.name = name
        self.exchange = exchange
        self.command = command  # what a person runs to store the first pair
        self._one_at_a_time = asyncio.Lock()  # this process's callers share one refresh

    async def bearer(self, http: aiohttp.ClientSession, refused: str | None = None) -> str:
        async with self._one_at_a_time:
            deadline = time.monotonic() + CLAIM_SECONDS + WAIT_STEP
            while True:
                tokens = await self._current()
                if tokens.access_token != refused and tokens.seconds_left > REFRESH_MARGIN:
                    return tokens.access_token
                if await self._claim(tokens):
                    return await self._refresh(http, tokens)
                if time.monotonic() > deadline:  # bounded: the claim ran out meanwhile
                    raise TemporaryFailure(f"amoCRM '{self.name}': a token refresh is stuck")
                # Another process holds the claim and spends the refresh token: its new
                # pair appears in the row (the version moves on), or its claim runs out.
                await asyncio.sleep(WAIT_STEP)

    async def _current(self) -> StoredTokens:
        name = self.name
        tokens = await self.store.read(lambda tx: tx.credentials.get(name))
        if tokens is None:
            raise AuthFailure(f"amoCRM '{self.name}' has no OAuth tokens yet: run {self.command}")
        return tokens

    async def _claim(self, tokens: StoredTokens) -> bool:
        name, version = self.name, tokens.version
        return await self.store.write_alone(
            lambda tx: tx.credentials.claim(name, version, CLAIM_SECONDS)
        )

    async def _refresh(self, http: aiohttp.ClientSession, tokens: StoredTokens) -> str:
        name, version = self.name, tokens.version
        try:
            fresh = await self.exchange(http, "refresh_token", tokens.refresh_token)
        except DeliveryFailure as failure:
            reason = failure.message
            await self.store.write(lambda tx: tx.credentials.refused(name, version, reason))
            raise
        kept = await self.store.write(lambda tx: tx.credentials.replace(name, version, fresh))
        log.info("amoCRM '%s': OAuth tokens refreshed", name, extra={"connection": name})
        if not kept:  # a person authorized again meanwhile: theirs is the pair to use
            return (await self._current()).access_token
        return fresh.access_token


def stored_credentials(store: Store) -> Callable[[str, Exchange], StoredCredentials]:
    """What the registry calls for each OAuth connection of a process that has the store."""

    def made(name: str, exchange: Exchange) -> StoredCredentials:
        return StoredCredentials(store, name, exchange, f"leadrelay amocrm authorize {name}")

    return made
