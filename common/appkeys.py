"""Every typed application key shared by the processes, declared once."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from common.campaigns import CampaignService
from common.config import Settings
from common.db import Database
from common.events import EventStore
from common.leads import LeadService
from common.metrics import Metrics
from common.tasks import TaskQueue

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
EVENTS = web.AppKey("events", EventStore)
LEADS = web.AppKey("leads", LeadService)
CAMPAIGNS = web.AppKey("campaigns", CampaignService)
TASKS = web.AppKey("tasks", TaskQueue)
METRICS = web.AppKey("metrics", Metrics)
HTTP = web.AppKey("http", aiohttp.ClientSession)
