"""Every typed application key shared by the processes, declared once."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from common.config import Settings
from common.health import Health
from common.metrics import Metrics
from common.serving import ConnectionGuard
from common.store import Store

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
METRICS = web.AppKey("metrics", Metrics)
HTTP = web.AppKey("http", aiohttp.ClientSession)
HEALTH = web.AppKey("health", Health)
GUARD = web.AppKey("guard", ConnectionGuard)
