"""Application keys of the dashboard process."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from common.integrations.base import CrmIntegration
from common.ratelimit import KeyedLimiter
from common.store.replay import StreamReplayer
from services.dashboard.queries import DashboardQueries

QUERIES = web.AppKey("queries", DashboardQueries)
REPLAYER = web.AppKey("replayer", StreamReplayer)
LOGIN_LIMITER = web.AppKey("login_limiter", KeyedLimiter)
# aiohttp-session's middleware, made at start once the store has given the cookies' key.
SESSIONS = web.AppKey("sessions", Middleware)
# The configured CRMs, asked only where a person opens a deal in them.
INTEGRATIONS = web.AppKey("integrations", dict[str, CrmIntegration])
