"""`python -m services.dispatcher`: read the configuration and serve."""

from common.web import run_process
from services.dispatcher.app import create_app

run_process("dispatcher", create_app)
