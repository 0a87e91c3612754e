"""`python -m services.dispatcher`: read the configuration and serve."""

from __future__ import annotations

from common import logs
from common.config import load_settings
from common.web import serve
from services.dispatcher.app import create_app


def main() -> None:
    settings = load_settings()
    logs.setup("dispatcher", settings.log_level)
    serve(create_app(settings), settings.dispatcher)
