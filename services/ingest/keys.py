"""Application keys of the ingest process."""

from __future__ import annotations

from aiohttp import web

from common.metrics import FoldedCounter
from common.ratelimit import KeyedLimiter

RATE_LIMITER = web.AppKey("rate_limiter", KeyedLimiter)
LEADS_CREATED = web.AppKey("leads_created", FoldedCounter)
