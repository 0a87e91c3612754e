"""Application keys of the webhooks process."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import Counter

from common.integrations.base import CrmIntegration
from common.payments import PaymentService

INTEGRATIONS = web.AppKey("integrations", dict[str, CrmIntegration])
PAYMENTS = web.AppKey("payments", PaymentService)
HANDLED = web.AppKey("webhooks_handled", Counter)
