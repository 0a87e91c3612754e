"""Application keys of the webhooks process."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import Counter

from common.integrations.base import CrmIntegration

INTEGRATIONS = web.AppKey("integrations", dict[str, CrmIntegration])
HANDLED = web.AppKey("webhooks_handled", Counter)
