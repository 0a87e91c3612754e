"""Application keys of the ingest process."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import Counter

from common.metrics import Fold
from common.ratelimit import KeyedLimiter

RATE_LIMITER = web.AppKey("rate_limiter", KeyedLimiter)
LEADS_CREATED = web.AppKey("leads_created", Counter)
CAMPAIGN_LABEL = web.AppKey("campaign_label", Fold)
