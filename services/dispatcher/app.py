"""The dispatcher application factory."""

from __future__ import annotations

from aiohttp import web

from common.config import Settings
from common.web import base_app


def create_app(settings: Settings) -> web.Application:
    return base_app(settings, "dispatcher")
